// The key goes in the first call's metadata: a gateway reached over plain HTTP that is not
// on this machine gets a warning before it, or, with --require-tls, no call at all.
import net from 'node:net';
import { runToolmesh } from './run-toolmesh.ts';

// TEST-NET-1 (RFC 5737): never anybody's gateway. The call fails (unreachable, or its
// deadline), which is beside the point: the warning comes before it.
const remote = 'http://192.0.2.1:8080';

test('plain HTTP to a remote gateway: a warning on stderr before the key is sent', async () => {
  const run = await runToolmesh(['--gateway', remote, '--api-key', 'k', '--timeout', '1', 'tools']);
  expect(run.code).toBe(1);
  const [first, ...rest] = run.stderr.split('\n');
  expect(first).toBe(
    'warning: sending the API key unencrypted (plain HTTP) to http://192.0.2.1:8080, which is not on ' +
      'this machine: anyone on the network path can read the key and the conversation. Use an https:// ' +
      'gateway URL or --tls (or --require-tls / TOOLMESH_REQUIRE_TLS=1 to refuse plain HTTP)',
  );
  expect(rest.join('\n')).toMatch(/error: (UNAVAILABLE|DEADLINE_EXCEEDED)/);

  // With --json, stderr stays machine-readable.
  const json = await runToolmesh([
    '--gateway',
    remote,
    '--api-key',
    'k',
    '--timeout',
    '1',
    '--json',
    'tools',
  ]);
  const [warning] = json.stderr.trim().split('\n');
  expect(JSON.parse(warning ?? '')).toEqual({ warning: expect.stringContaining('unencrypted') });
});

test('--require-tls or TOOLMESH_REQUIRE_TLS=1 refuses before any connection is made', async () => {
  // A listener that counts connections: with the refusal, there must be none.
  let connections = 0;
  const listener = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  try {
    // 0.0.0.0 reaches this machine, but is no loopback name: it counts as remote.
    const gateway = `http://0.0.0.0:${port}`;
    const flag = await runToolmesh(['--gateway', gateway, '--api-key', 'k', '--require-tls', 'tools']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain(
      `error: refusing: sending the API key unencrypted (plain HTTP) to ${gateway}`,
    );
    const env = await runToolmesh(['--gateway', gateway, '--api-key', 'k', 'tools'], {
      env: { TOOLMESH_REQUIRE_TLS: '1' },
    });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('error: refusing:');
    expect(connections).toBe(0);
    // A loopback gateway over plain HTTP is fine, even with --require-tls: no warning, the call is made.
    const local = await runToolmesh([
      '--gateway',
      `127.0.0.1:${port}`,
      '--api-key',
      'k',
      '--require-tls',
      '--timeout',
      '5',
      'tools',
    ]);
    expect(local.stderr).not.toContain('warning');
    expect(local.stderr).not.toContain('refusing');
    expect(connections).toBeGreaterThan(0);
  } finally {
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }
});
