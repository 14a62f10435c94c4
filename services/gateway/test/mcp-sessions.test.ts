// Stateful MCP sessions: owned by their caller, bounded per user and in total, closed
// when idle (on an injected clock), and a use keeps a session alive.
import { createManualClock } from '@toolmesh/clock';
import { createMcpSessions, type McpSession } from '../src/mcp/mcp-sessions.ts';

function session(owner: string) {
  const closed = { count: 0 };
  const s: McpSession = {
    owner,
    principal: {} as McpSession['principal'],
    handle: async () => {},
    close: async () => {
      closed.count++;
    },
  };
  return { s, closed };
}

test('a session answers only its owner and closes after being idle; a use keeps it', async () => {
  const clock = createManualClock();
  const counts: number[] = [];
  const sessions = createMcpSessions({ clock, idleMs: 1_000, onCount: (n) => counts.push(n) });
  const a = session('t_demo/u_1001');
  sessions.add('s1', a.s);
  expect(sessions.use('s1', 't_demo/u_2002')).toBeUndefined();
  expect(sessions.use('s1', 't_other/u_1001')).toBeUndefined();
  await clock.advance(900);
  expect(sessions.use('s1', 't_demo/u_1001')).toBe(a.s);
  await clock.advance(900);
  expect(sessions.use('s1', 't_demo/u_1001')).toBe(a.s);
  await clock.advance(1_000);
  expect(sessions.use('s1', 't_demo/u_1001')).toBeUndefined();
  expect(a.closed.count).toBe(1);
  expect(counts).toEqual([1, 0]);
});

test('sessions are bounded per user and in total; a removed one frees its place', () => {
  const clock = createManualClock();
  const sessions = createMcpSessions({ clock, maxPerUser: 2, maxTotal: 3 });
  sessions.add('a1', session('t/a').s);
  sessions.add('a2', session('t/a').s);
  expect(sessions.hasRoom('t/a')).toBe(false);
  expect(sessions.hasRoom('t/b')).toBe(true);
  sessions.add('b1', session('t/b').s);
  expect(sessions.hasRoom('t/c')).toBe(false);
  sessions.remove('a1');
  expect(sessions.hasRoom('t/a')).toBe(true);
  expect(sessions.hasRoom('t/c')).toBe(true);
});
