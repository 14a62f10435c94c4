// JWT bearer tokens at the edge: verified against a JWKS (signature, issuer, audience,
// expiry on an injected clock), claims mapped to the principal, everything else refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { readErrorInfo } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { freePort } from '@toolmesh/testkit';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWTPayload,
  SignJWT,
  UnsecuredJWT,
} from 'jose';
import { createAuthenticator } from '../src/authenticate.ts';
import { loadConfig } from '../src/config.ts';
import {
  createEdgeAuthenticator,
  createJwtVerifier,
  type JwtVerifierOptions,
} from '../src/identity/index.ts';

// The gateway signs what it forwards, so its configuration always names its mesh key (not read here).
const load = (env: NodeJS.ProcessEnv) =>
  loadConfig({ TOOLMESH_MESH_KEY_FILE: '/etc/toolmesh/mesh-key/key.json', ...env });

const now = Date.UTC(2026, 5, 1, 12, 0, 0);
const issuer = 'https://login.example.com/';
const audience = 'toolmesh';
const logger = createLogger({ service: 'gateway-jwt-test', level: 'silent' });

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let es256: KeyPair;
let ed25519: KeyPair;
let other: KeyPair;
let jwks: JSONWebKeySet;
const dir = mkdtempSync(join(tmpdir(), 'gateway-jwt-'));

const publicJwk = async (pair: KeyPair, kid: string, alg: string) => ({
  ...(await exportJWK(pair.publicKey)),
  kid,
  alg,
  use: 'sig',
});

beforeAll(async () => {
  es256 = await generateKeyPair('ES256');
  ed25519 = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  other = await generateKeyPair('ES256');
  jwks = { keys: [await publicJwk(es256, 'k1', 'ES256'), await publicJwk(ed25519, 'k2', 'EdDSA')] };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface TokenOptions {
  key?: KeyPair;
  kid?: string;
  alg?: string;
  iss?: string;
  aud?: string;
  /** Seconds relative to `now`. */
  exp?: number;
  iat?: number;
}
const sign = (claims: JWTPayload, o: TokenOptions = {}) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: o.alg ?? 'ES256', kid: o.kid ?? 'k1', typ: 'JWT' })
    .setIssuer(o.iss ?? issuer)
    .setAudience(o.aud ?? audience)
    .setIssuedAt(Math.floor(now / 1000) + (o.iat ?? 0))
    .setExpirationTime(Math.floor(now / 1000) + (o.exp ?? 300))
    .sign((o.key ?? es256).privateKey);

const verifierWith = (options: Partial<JwtVerifierOptions> = {}) => {
  const rejected: string[] = [];
  const authenticate = createAuthenticator({
    jwt: createJwtVerifier({
      keys: createLocalJWKSet(jwks),
      issuer,
      audience,
      clock: createManualClock({ start: now }),
      onReject: (reason) => rejected.push(reason),
      ...options,
    }),
  });
  return { authenticate: (token: string) => authenticate(`Bearer ${token}`), rejected };
};

const user = { sub: 'u_77', tenant_id: 't_acme' };

test('a valid token is accepted and mapped: sub, tenant_id, permissions array or scope string', async () => {
  const { authenticate } = verifierWith();
  expect(
    await authenticate(await sign({ ...user, permissions: ['order:read', 'ticket:write'] })),
  ).toMatchObject({
    userId: 'u_77',
    tenantId: 't_acme',
    permissions: ['order:read', 'ticket:write'],
  });
  // No permissions claim: the OAuth 2.0 scope string.
  const scoped = await authenticate(await sign({ ...user, scope: 'order:read  inventory:read' }));
  expect(scoped?.permissions).toEqual(['order:read', 'inventory:read']);
  // Neither: authenticated, allowed nothing.
  expect((await authenticate(await sign(user)))?.permissions).toEqual([]);
  // Another key of the set, another asymmetric algorithm.
  const ed = await authenticate(await sign(user, { key: ed25519, kid: 'k2', alg: 'EdDSA' }));
  expect(ed?.userId).toBe('u_77');
});

test('claim names are configurable', async () => {
  const { authenticate } = verifierWith({
    claims: { user: 'email', tenant: 'https://example.com/org', permissions: 'roles' },
  });
  const principal = await authenticate(
    await sign({
      sub: 'ignored',
      email: 'ann@example.com',
      'https://example.com/org': 'org_9',
      roles: 'a:read b:write',
    }),
  );
  expect(principal).toMatchObject({
    userId: 'ann@example.com',
    tenantId: 'org_9',
    permissions: ['a:read', 'b:write'],
  });
});

test('a token without a user or a tenant is UNAUTHENTICATED, saying which claim is missing', async () => {
  const { authenticate } = verifierWith();
  const noTenant = await authenticate(await sign({ sub: 'u_77' })).catch((e: unknown) => e);
  expect(noTenant).toBeInstanceOf(ConnectError);
  expect(noTenant).toMatchObject({
    code: Code.Unauthenticated,
    rawMessage: 'the token names no tenant (claim "tenant_id")',
  });
  const noUser = await authenticate(await sign({ tenant_id: 't_acme' })).catch((e: unknown) => e);
  expect(noUser).toMatchObject({
    code: Code.Unauthenticated,
    rawMessage: 'the token names no user (claim "sub")',
  });
  const badUser = await authenticate(await sign({ sub: 'u\n1', tenant_id: 't' })).catch((e: unknown) => e);
  expect(badUser).toMatchObject({ code: Code.Unauthenticated });
});

test('wrong issuer, audience, signature, expiry, alg none and HS256 are refused', async () => {
  const { authenticate, rejected } = verifierWith();
  const refused = async (token: string) => expect(await authenticate(token)).toBeUndefined();
  await refused(await sign(user, { iss: 'https://evil.example.com/' }));
  await refused(await sign(user, { aud: 'someone-else' }));
  // Signed by a key outside the set that claims the kid of one inside it.
  await refused(await sign(user, { key: other, kid: 'k1' }));
  await refused(await sign(user, { key: other, kid: 'unknown' }));
  // Expired 31 s ago (skew 30 s), and not yet valid.
  await refused(await sign(user, { iat: -600, exp: -31 }));
  await refused(
    await new SignJWT(user)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setNotBefore(Math.floor(now / 1000) + 120)
      .setExpirationTime(Math.floor(now / 1000) + 600)
      .sign(es256.privateKey),
  );
  // No exp at all.
  await refused(
    await new SignJWT(user)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .sign(es256.privateKey),
  );
  await refused(
    new UnsecuredJWT(user)
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime(Math.floor(now / 1000) + 300)
      .encode(),
  );
  // An HMAC token keyed with something public (here: the JWKS's own text) must not pass.
  await refused(
    await new SignJWT(user)
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime(Math.floor(now / 1000) + 300)
      .sign(new TextEncoder().encode(JSON.stringify(jwks))),
  );
  expect(rejected).toEqual(
    expect.arrayContaining([
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
      'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      'ERR_JWKS_NO_MATCHING_KEY',
      'ERR_JWT_EXPIRED',
      'ERR_JOSE_ALG_NOT_ALLOWED',
    ]),
  );
});

test('the clock skew is tolerated, and no more', async () => {
  const { authenticate } = verifierWith({ clockSkewSeconds: 30 });
  expect(await authenticate(await sign(user, { iat: -600, exp: -29 }))).toBeDefined();
  expect(await authenticate(await sign(user, { iat: -600, exp: -31 }))).toBeUndefined();
  const strict = verifierWith({ clockSkewSeconds: 0 });
  expect(await strict.authenticate(await sign(user, { iat: -600, exp: -1 }))).toBeUndefined();
});

test('JWT-shaped credentials never reach the API keys, and API keys never reach the JWT verifier', async () => {
  const seen: string[] = [];
  const authenticate = createAuthenticator({
    apiKeys: async (t) => {
      seen.push(`key:${t}`);
      return undefined;
    },
    jwt: async (t) => {
      seen.push(`jwt:${t}`);
      return undefined;
    },
  });
  await authenticate('Bearer aaa.bbb.ccc');
  await authenticate('Bearer aaa.bbb.');
  await authenticate('Bearer prod-key-0123456789abcdef');
  await authenticate('Bearer a.b');
  expect(seen).toEqual(['jwt:aaa.bbb.ccc', 'jwt:aaa.bbb.', 'key:prod-key-0123456789abcdef', 'key:a.b']);
  // Without a JWT verifier a JWT is simply refused.
  expect(await createAuthenticator({})('Bearer aaa.bbb.ccc')).toBeUndefined();
});

test('from configuration: a JWKS file, re-read when it changes, at most every few seconds of the clock', async () => {
  const path = join(dir, 'jwks.json');
  writeFileSync(path, JSON.stringify({ keys: [jwks.keys[0]] }));
  const config = load({
    NODE_ENV: 'production',
    TOOLMESH_JWKS_FILE: path,
    TOOLMESH_JWT_ISSUER: issuer,
    TOOLMESH_JWT_AUDIENCE: `other, ${audience}`,
  });
  expect(config.usingDevKeys).toBe(false);
  const clock = createManualClock({ start: now });
  const authenticate = createEdgeAuthenticator(config.identity, { clock, logger, checkEveryMs: 5_000 });
  const bearer = async (token: string) => authenticate(`Bearer ${token}`);
  expect((await bearer(await sign(user)))?.tenantId).toBe('t_acme');
  // Dev keys are not accepted once a JWKS is configured.
  expect(await authenticate('Bearer dev-key-u1001')).toBeUndefined();

  // Rotation: the issuer publishes a new key.
  const rotated = await generateKeyPair('ES256');
  const byNewKey = await sign(user, { key: rotated, kid: 'k3' });
  expect(await bearer(byNewKey)).toBeUndefined();
  writeFileSync(path, JSON.stringify({ keys: [jwks.keys[0], await publicJwk(rotated, 'k3', 'ES256')] }));
  await clock.advance(4_000);
  expect(await bearer(byNewKey)).toBeUndefined(); // not yet looked at
  await clock.advance(1_000);
  expect(await bearer(byNewKey)).toMatchObject({ userId: 'u_77' });
  // A broken file keeps the last good keys.
  writeFileSync(path, '{"keys": [');
  await clock.advance(5_000);
  expect(await bearer(byNewKey)).toMatchObject({ userId: 'u_77' });
});

test('a JWKS endpoint: its keys verify tokens; an endpoint that fails is DEPENDENCY_UNAVAILABLE', async () => {
  let status = 200;
  const idp = createHttpServer((_req, res) => {
    res
      .writeHead(status, { 'content-type': 'application/json' })
      .end(status === 200 ? JSON.stringify(jwks) : 'oops');
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`;
    const config = load({
      TOOLMESH_JWKS_URL: url,
      TOOLMESH_JWT_ISSUER: issuer,
      TOOLMESH_JWT_AUDIENCE: audience,
    });
    const clock = createManualClock({ start: now });
    expect(
      await createEdgeAuthenticator(config.identity, { clock, logger })(`Bearer ${await sign(user)}`),
    ).toMatchObject({
      userId: 'u_77',
    });
    status = 503;
    const error = await createEdgeAuthenticator(config.identity, { clock, logger })(
      `Bearer ${await sign(user)}`,
    ).catch((e: unknown) => e);
    expect(readErrorInfo(error)).toMatchObject({ reason: 'DEPENDENCY_UNAVAILABLE' });
  } finally {
    await new Promise((resolve) => idp.close(resolve));
  }
});

test('a JWKS endpoint that does not answer is DEPENDENCY_UNAVAILABLE, not a refused token', async () => {
  const config = load({
    TOOLMESH_JWKS_URL: `http://127.0.0.1:${await freePort()}/.well-known/jwks.json`,
    TOOLMESH_JWT_ISSUER: issuer,
    TOOLMESH_JWT_AUDIENCE: audience,
    TOOLMESH_API_KEYS: JSON.stringify({
      'prod-key-0123456789abcdef': { user_id: 'u', tenant_id: 't', permissions: [] },
    }),
  });
  const authenticate = createEdgeAuthenticator(config.identity, {
    clock: createManualClock({ start: now }),
    logger,
  });
  const error = await authenticate(`Bearer ${await sign(user)}`).catch((e: unknown) => e);
  expect(error).toMatchObject({ code: Code.Unavailable });
  expect(readErrorInfo(error)).toMatchObject({ reason: 'DEPENDENCY_UNAVAILABLE' });
  // API keys still work beside it.
  expect(await authenticate('Bearer prod-key-0123456789abcdef')).toMatchObject({ userId: 'u' });
});

test('JWT configuration errors name the variables', () => {
  expect(() => load({ TOOLMESH_JWKS_URL: 'https://login.example.com/jwks' })).toThrow(
    /TOOLMESH_JWT_ISSUER and TOOLMESH_JWT_AUDIENCE must be set/,
  );
  expect(() =>
    load({
      TOOLMESH_JWKS_URL: 'http://login.example.com/jwks',
      TOOLMESH_JWT_ISSUER: issuer,
      TOOLMESH_JWT_AUDIENCE: audience,
    }),
  ).toThrow(/TOOLMESH_JWKS_URL.*https/);
  expect(() =>
    load({
      TOOLMESH_JWKS_URL: 'https://a/jwks',
      TOOLMESH_JWKS_FILE: '/x',
      TOOLMESH_JWT_ISSUER: issuer,
      TOOLMESH_JWT_AUDIENCE: audience,
    }),
  ).toThrow(/not both/);
  expect(() => load({ TOOLMESH_JWT_ISSUER: issuer })).toThrow(/no TOOLMESH_JWKS_URL or TOOLMESH_JWKS_FILE/);
  const missing = join(dir, 'missing.json');
  expect(() =>
    load({ TOOLMESH_JWKS_FILE: missing, TOOLMESH_JWT_ISSUER: issuer, TOOLMESH_JWT_AUDIENCE: audience }),
  ).toThrow(/TOOLMESH_JWKS_FILE: cannot read .*ENOENT/);
  const symmetric = join(dir, 'oct.json');
  writeFileSync(symmetric, JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
  expect(() =>
    load({
      TOOLMESH_JWKS_FILE: symmetric,
      TOOLMESH_JWT_ISSUER: issuer,
      TOOLMESH_JWT_AUDIENCE: audience,
    }),
  ).toThrow(/symmetric/);
});
