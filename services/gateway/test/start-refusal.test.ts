// The gateway process itself refuses to start without credentials under NODE_ENV=production
// (or with an explicitly empty key list) and says why: never the demo keys in production.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

// Runs the real entry point with exactly `env` (plus PATH) and collects what it prints.
function runGateway(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH, PORT: '0', METRICS_PORT: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += String(chunk);
  });
  child.stderr.on('data', (chunk) => {
    output += String(chunk);
  });
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    child.once('exit', (code) => resolve({ code, output }));
  });
}

test('NODE_ENV=production with no keys and no JWKS: exits non-zero, saying what to set', async () => {
  const { code, output } = await runGateway({ NODE_ENV: 'production' });
  expect(code).not.toBe(0);
  expect(output).toContain(
    'gateway not started: invalid gateway configuration: NODE_ENV=production and no caller',
  );
  expect(output).toMatch(/set TOOLMESH_API_KEYS .*TOOLMESH_JWKS_URL or TOOLMESH_JWKS_FILE/);
  expect(output).not.toContain('listening');
});

test('an explicitly empty TOOLMESH_API_KEYS (as a compose file may pass it) also refuses to start', async () => {
  const { code, output } = await runGateway({ NODE_ENV: 'production', TOOLMESH_API_KEYS: '' });
  expect(code).not.toBe(0);
  expect(output).toContain('TOOLMESH_API_KEYS holds no API keys and no JWKS is configured');
});

test('a signing key file that is not there stops the start instead of serving calls it cannot forward', async () => {
  const { code, output } = await runGateway({
    TOOLMESH_API_KEYS: JSON.stringify({
      'a-key-of-sixteen-chars': { user_id: 'u_1', tenant_id: 't_1', permissions: [] },
    }),
    TOOLMESH_MESH_KEY_FILE: '/nonexistent/gateway.key.json',
  });
  expect(code).not.toBe(0);
  expect(output).toContain('mesh signing key /nonexistent/gateway.key.json unusable');
  expect(output).not.toContain('gateway listening');
});

test('no TOOLMESH_MESH_KEY_FILE at all: refused, naming it', async () => {
  const { code, output } = await runGateway({
    TOOLMESH_API_KEYS: JSON.stringify({
      'a-key-of-sixteen-chars': { user_id: 'u_1', tenant_id: 't_1', permissions: [] },
    }),
  });
  expect(code).not.toBe(0);
  expect(output).toContain('TOOLMESH_MESH_KEY_FILE is required');
});
