// API keys at the edge: the demo keys only when nothing is configured, keys from JSON or
// a file (plain or as SHA-256), and a clear refusal to start with none in production.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '@toolmesh/clock';
import { createLogger } from '@toolmesh/telemetry';
import { createEdgeAuthenticator } from '../src/identity/index.ts';
import { createApiKeyAuthenticator, devApiKeys, loadConfig } from '../src/index.ts';

// The gateway signs what it forwards, so its configuration always names its mesh key (not read here).
const load = (env: NodeJS.ProcessEnv) =>
  loadConfig({ TOOLMESH_MESH_KEY_FILE: '/etc/toolmesh/mesh-key/key.json', ...env });

const logger = createLogger({ service: 'gateway-authenticate-test', level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'gateway-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const principal = { user_id: 'u_9', tenant_id: 't_x', permissions: ['order:read'] };
const authenticatorOf = (env: NodeJS.ProcessEnv, clock = createManualClock()) =>
  createEdgeAuthenticator(load(env).identity, { clock, logger, checkEveryMs: 5_000 });

test('the dev keys map to the demo principals; anything else is rejected', async () => {
  const authenticate = createApiKeyAuthenticator(devApiKeys);
  expect(await authenticate('Bearer dev-key-u1001')).toMatchObject({ userId: 'u_1001', tenantId: 't_demo' });
  expect((await authenticate('bearer dev-key-u2002'))?.userId).toBe('u_2002');
  expect((await authenticate('Bearer dev-key-readonly'))?.permissions).not.toContain('ticket:write');
  for (const header of [
    null,
    '',
    'dev-key-u1001',
    'Bearer ',
    'Bearer dev-key-u1001x',
    'Basic dev-key-u1001',
  ]) {
    expect(await authenticate(header)).toBeUndefined();
  }
});

test('configuration: dev keys only when nothing is configured; TOOLMESH_API_KEYS replaces them; bad values are named', async () => {
  expect(load({}).usingDevKeys).toBe(true);
  expect(await authenticatorOf({})('Bearer dev-key-u1001')).toMatchObject({ userId: 'u_1001' });
  const env = { TOOLMESH_API_KEYS: JSON.stringify({ 'prod-key-0123456789abcdef': principal }), PORT: '9090' };
  const config = load(env);
  expect(config.usingDevKeys).toBe(false);
  expect(config.port).toBe(9090);
  const authenticate = authenticatorOf(env);
  expect(await authenticate('Bearer prod-key-0123456789abcdef')).toMatchObject({
    userId: 'u_9',
    tenantId: 't_x',
  });
  expect(await authenticate('Bearer dev-key-u1001')).toBeUndefined();
  expect(() => load({ TOOLMESH_API_KEYS: '{' })).toThrow(/TOOLMESH_API_KEYS: not valid JSON/);
  expect(() =>
    load({ TOOLMESH_API_KEYS: '{"short": {"user_id":"u","tenant_id":"t","permissions":[]}}' }),
  ).toThrow(/TOOLMESH_API_KEYS: entry 1: api keys must have at least 16 characters/);
  expect(() => load({ TOOLMESH_API_KEYS: 'dev-key-u1001' })).toThrow(
    /TOOLMESH_API_KEYS: expected a JSON object/,
  );
  expect(() => load({ PORT: 'eighty' })).toThrow(/PORT/);
  // An error never repeats a key.
  const secret = 'prod-key-never-printed-0123';
  expect(() => load({ TOOLMESH_API_KEYS: JSON.stringify({ [secret]: { user_id: '' } }) })).toThrow(
    expect.objectContaining({ message: expect.not.stringContaining(secret) }),
  );
});

test('keys may be stored as sha256:<hex>; a caller presenting the digest itself gets nowhere', async () => {
  const key = 'prod-key-hashed-0123456789';
  const authenticate = authenticatorOf({
    TOOLMESH_API_KEYS: JSON.stringify({ [`sha256:${sha256(key).toUpperCase()}`]: principal }),
  });
  expect(await authenticate(`Bearer ${key}`)).toMatchObject({ userId: 'u_9' });
  expect(await authenticate(`Bearer sha256:${sha256(key)}`)).toBeUndefined();
  expect(await authenticate(`Bearer ${sha256(key)}`)).toBeUndefined();
  expect(() => load({ TOOLMESH_API_KEYS: JSON.stringify({ 'sha256:abc': principal }) })).toThrow(
    /a hashed key is sha256: and 64 hex digits/,
  );
  // A key shaped like a JWT would never reach the key lookup.
  expect(() => load({ TOOLMESH_API_KEYS: JSON.stringify({ 'abcdefgh.ijklmnop.q': principal }) })).toThrow(
    /must not look like a JWT/,
  );
});

test('keys from a file (a mounted Secret), by absolute path or file:, re-read when it changes', async () => {
  const path = join(dir, 'api-keys.json');
  const first = 'prod-key-first-0123456789';
  const second = 'prod-key-second-0123456789';
  writeFileSync(path, JSON.stringify({ [first]: principal }));
  expect(load({ TOOLMESH_API_KEYS: `file:${path}` }).identity.apiKeys).toMatchObject({
    source: 'file',
    path,
  });
  const clock = createManualClock();
  const authenticate = authenticatorOf({ TOOLMESH_API_KEYS: path, NODE_ENV: 'production' }, clock);
  expect(await authenticate(`Bearer ${first}`)).toMatchObject({ userId: 'u_9' });

  // Rotation: the new key added, then the old one removed, no restart.
  writeFileSync(path, JSON.stringify({ [`sha256:${sha256(second)}`]: { ...principal, user_id: 'u_10' } }));
  await clock.advance(4_999);
  expect(await authenticate(`Bearer ${second}`)).toBeUndefined(); // not looked at yet
  await clock.advance(1);
  expect(await authenticate(`Bearer ${second}`)).toMatchObject({ userId: 'u_10' });
  expect(await authenticate(`Bearer ${first}`)).toBeUndefined();
  // A broken file keeps the last good keys; an emptied one is taken (revocation).
  writeFileSync(path, '{"oops"');
  await clock.advance(5_000);
  expect(await authenticate(`Bearer ${second}`)).toMatchObject({ userId: 'u_10' });
  writeFileSync(path, '{}');
  await clock.advance(5_000);
  expect(await authenticate(`Bearer ${second}`)).toBeUndefined();
  expect(await authenticate('Bearer dev-key-u1001')).toBeUndefined();

  expect(() => load({ TOOLMESH_API_KEYS: join(dir, 'nope.json') })).toThrow(
    /TOOLMESH_API_KEYS: cannot read .*nope\.json \(ENOENT\)/,
  );
  writeFileSync(join(dir, 'bad.json'), '[1]');
  expect(() => load({ TOOLMESH_API_KEYS: join(dir, 'bad.json') })).toThrow(
    /TOOLMESH_API_KEYS \(.*bad\.json\)/,
  );
});

test('an explicitly empty key list with no JWKS refuses to start, naming what to set', () => {
  const emptyFile = join(dir, 'empty.json');
  writeFileSync(emptyFile, '');
  for (const value of ['', '  ', '{}', emptyFile]) {
    expect(() => load({ TOOLMESH_API_KEYS: value })).toThrow(
      /holds no API keys and no JWKS is configured.*TOOLMESH_API_KEYS.*TOOLMESH_JWKS_URL or TOOLMESH_JWKS_FILE/,
    );
  }
});

test('NODE_ENV=production with no keys and no JWKS refuses to start; never the dev keys', () => {
  expect(() => load({ NODE_ENV: 'production' })).toThrow(
    /NODE_ENV=production and no caller credentials are configured: set TOOLMESH_API_KEYS .* TOOLMESH_JWKS_URL or TOOLMESH_JWKS_FILE with TOOLMESH_JWT_ISSUER and TOOLMESH_JWT_AUDIENCE/,
  );
  expect(() => load({ NODE_ENV: 'production', TOOLMESH_API_KEYS: '' })).toThrow(/holds no API keys/);
  const config = load({
    NODE_ENV: 'production',
    TOOLMESH_API_KEYS: JSON.stringify({ 'prod-key-0123456789abcdef': principal }),
  });
  expect(config.usingDevKeys).toBe(false);
});
