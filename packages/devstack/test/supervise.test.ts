// The restart policy of `npm start`, driven by a manual clock against fake processes:
// backoff, reset after a good run, giving up, intended stops. No process, no sleeping.
import { createManualClock, type ManualClock } from '@toolmesh/clock';
import {
  defaultRestartPolicy,
  describeSupervisorEvent,
  type ProcessExit,
  restartDelay,
  type SupervisedProcess,
  type SupervisorEvent,
  superviseService,
} from '../src/index.ts';

interface FakeProcess extends SupervisedProcess {
  readonly pid: number;
  crash(exit?: Partial<ProcessExit>): Promise<void>;
  stopped: boolean;
}

let nextPid = 100;
function fakeProcess(): FakeProcess {
  const { promise: exit, resolve } = Promise.withResolvers<ProcessExit>();
  const fake: FakeProcess = {
    pid: nextPid++,
    exit,
    stopped: false,
    async crash(how = {}) {
      resolve({ code: how.code ?? null, signal: 'signal' in how ? (how.signal ?? null) : 'SIGKILL' });
      await exit;
      // Let the supervisor's exit handler run.
      await Promise.resolve();
    },
    async stop() {
      fake.stopped = true;
      resolve({ code: 0, signal: null });
      await exit;
    },
  };
  return fake;
}

function supervised(clock: ManualClock, ready?: (p: FakeProcess) => Promise<void>) {
  const events: SupervisorEvent[] = [];
  const spawned: FakeProcess[] = [];
  const first = fakeProcess();
  const supervision = superviseService<FakeProcess>({
    name: 'inventory',
    process: first,
    start: () => {
      const p = fakeProcess();
      spawned.push(p);
      return p;
    },
    ready,
    clock,
    onEvent: (event) => events.push(event),
  });
  return { supervision, events, spawned, first, current: () => supervision.current() };
}

test('backoff doubles from 0.5 s and stops growing at 10 s', () => {
  expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => restartDelay(defaultRestartPolicy, n))).toEqual([
    500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000,
  ]);
});

test('a crash is restarted after the backoff, not before, and reported down and back up', async () => {
  const clock = createManualClock();
  const { supervision, events, spawned, first } = supervised(clock);
  await clock.advance(5_000);
  await first.crash({ signal: 'SIGKILL' });
  expect(supervision.state()).toBe('restarting');
  expect(events).toEqual([
    {
      type: 'exited',
      service: 'inventory',
      pid: first.pid,
      exit: { code: null, signal: 'SIGKILL' },
      uptimeMs: 5_000,
      restart: 1,
      restartInMs: 500,
    },
  ]);
  await clock.advance(499);
  expect(spawned).toHaveLength(0);
  await clock.advance(1);
  expect(spawned).toHaveLength(1);
  expect(supervision.current()).toBe(spawned[0]);
  expect(supervision.state()).toBe('running');
  expect(events.slice(1).map((e) => e.type)).toEqual(['restarted', 'up']);
  expect(events[2]).toMatchObject({ type: 'up', pid: spawned[0]?.pid, restart: 1, downMs: 500 });
  expect(describeSupervisorEvent(events[0] as SupervisorEvent)).toContain(
    'exited unexpectedly (killed by SIGKILL) after 5.0 s; restarting in 0.5 s',
  );
  expect(describeSupervisorEvent(events[2] as SupervisorEvent)).toContain('is back up');
});

test('crashes in a row wait 0.5, 1, 2, 4 s; the fifth within a minute gives up and says so', async () => {
  const clock = createManualClock();
  const { supervision, events, spawned, current } = supervised(clock);
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    await current().crash({ code: 1, signal: null });
    const exited = events.at(-1);
    if (exited?.type !== 'exited') throw new Error(`expected an exit event, got ${exited?.type}`);
    waits.push(exited.restartInMs);
    await clock.advance(exited.restartInMs);
  }
  expect(waits).toEqual([500, 1_000, 2_000, 4_000]);
  expect(spawned).toHaveLength(4);
  await current().crash({ code: 1, signal: null });
  expect(supervision.state()).toBe('gave-up');
  const last = events.at(-1) as SupervisorEvent;
  expect(last).toEqual({
    type: 'gave-up',
    service: 'inventory',
    exit: { code: 1, signal: null },
    crashes: 5,
    windowMs: 60_000,
  });
  expect(describeSupervisorEvent(last)).toContain('giving up on it, the rest of the mesh keeps running');
  // Nothing more is started, however long we wait.
  await clock.advance(600_000);
  expect(spawned).toHaveLength(4);
  expect(clock.pending()).toBe(0);
});

test('crashes spread over more than a minute never give up; a good run resets the backoff', async () => {
  const clock = createManualClock();
  const { supervision, events, current } = supervised(clock);
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    // Up for 20 s each time: under the 30 s that resets the backoff.
    await clock.advance(20_000);
    await current().crash();
    const exited = events.at(-1);
    if (exited?.type !== 'exited') throw new Error(`expected an exit event, got ${exited?.type}`);
    waits.push(exited.restartInMs);
    await clock.advance(exited.restartInMs);
  }
  // At most three crashes fall within any minute: never five.
  expect(waits).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
  expect(supervision.state()).toBe('running');

  await clock.advance(30_000);
  await current().crash();
  expect(events.at(-1)).toMatchObject({ type: 'exited', restart: 1, restartInMs: 500 });
});

test('a restarted process that exits before it serves counts as a crash; one that lives but never serves is reported', async () => {
  const clock = createManualClock();
  let behave: 'crash' | 'hang' | 'serve' = 'crash';
  const { events, spawned, first } = supervised(clock, async (p) => {
    if (behave === 'crash') {
      await p.crash({ code: 1, signal: null });
      throw new Error('exited');
    }
    if (behave === 'hang') throw new Error('not serving after 60000 ms');
  });
  await first.crash();
  await clock.advance(500);
  expect(spawned).toHaveLength(1);
  expect(events.map((e) => e.type)).toEqual(['exited', 'restarted', 'exited']);
  expect(events.at(-1)).toMatchObject({ restart: 2, restartInMs: 1_000 });
  behave = 'hang';
  await clock.advance(1_000);
  expect(events.at(-1)).toMatchObject({ type: 'not-ready', error: 'not serving after 60000 ms' });
  expect(spawned[1]?.stopped).toBe(false);
});

test('an intended restart and a stop are not crashes: nothing is counted or restarted', async () => {
  const clock = createManualClock();
  const { supervision, events, spawned, first } = supervised(clock);
  await supervision.restart();
  expect(first.stopped).toBe(true);
  expect(spawned).toHaveLength(1);
  expect(events).toEqual([]);

  supervision.stop();
  await supervision.current().crash();
  await clock.advance(600_000);
  expect(spawned).toHaveLength(1);
  expect(events).toEqual([]);
  expect(supervision.state()).toBe('stopped');
});

test('stopping while a restart is pending cancels it', async () => {
  const clock = createManualClock();
  const { supervision, spawned, first } = supervised(clock);
  await first.crash();
  expect(clock.pending()).toBe(1);
  supervision.stop();
  await clock.advance(10_000);
  expect(spawned).toHaveLength(0);
});

test('after giving up, an explicit restart brings the service back with a clean slate', async () => {
  const clock = createManualClock();
  const { supervision, events, current } = supervised(clock, undefined);
  for (let i = 0; i < 5; i++) {
    await current().crash();
    await clock.advance(10_000);
  }
  expect(supervision.state()).toBe('gave-up');
  await supervision.restart();
  expect(supervision.state()).toBe('running');
  await current().crash();
  expect(events.at(-1)).toMatchObject({ type: 'exited', restart: 1, restartInMs: 500 });
});
