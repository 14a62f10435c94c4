import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { SignJWT } from 'jose';
import {
  createCredentialIssuer,
  createCredentialVerifier,
  generateMeshKeys,
  importSigningKey,
  jwksFromFile,
  jwksFromKeys,
  meshAudience,
  meshIssuer,
  signingKeyFromFile,
} from '../src/index.ts';

const principal = { userId: 'u_1001', tenantId: 't_demo', permissions: ['order:read'] };
const clock = createManualClock({ start: Date.UTC(2026, 11, 1, 12) });

async function world() {
  const keys = await generateMeshKeys([meshIssuer.gateway, meshIssuer.orchestrator]);
  const issuerOf = (name: string) => {
    const key = importSigningKey(keys.privateKeys[name] ?? {});
    return createCredentialIssuer({ issuer: name, signingKey: () => key, clock });
  };
  return { keys, gateway: issuerOf(meshIssuer.gateway), orchestrator: issuerOf(meshIssuer.orchestrator) };
}

const reason = async (p: Promise<unknown>) => {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  expect((error as ConnectError).code).toBe(Code.Unauthenticated);
  return (error as ConnectError).rawMessage;
};

test('a credential round-trips user, tenant, permissions, request id and the tool-call scope', async () => {
  const { keys, orchestrator } = await world();
  const verifier = createCredentialVerifier({
    keys: jwksFromKeys(keys.jwks),
    issuers: [meshIssuer.orchestrator],
    acceptsAudience: (a) => a === meshAudience.tool('get_order_detail'),
    clock,
  });
  const token = await orchestrator.issue({
    principal,
    requestId: 'r-1',
    audience: meshAudience.tool('get_order_detail'),
    tool: 'get_order_detail',
    callId: 'call_1',
    idempotencyKey: 'idem-1',
  });
  const credential = await verifier.verify(token);
  expect(credential.principal).toMatchObject(principal);
  expect(credential).toMatchObject({
    requestId: 'r-1',
    issuer: meshIssuer.orchestrator,
    tool: 'get_order_detail',
    callId: 'call_1',
    idempotencyKey: 'idem-1',
    expiresAt: clock.now() + 60_000,
  });
});

test('expired, other audience, other issuer, foreign key, tampered and unsigned credentials are refused', async () => {
  const { keys, gateway, orchestrator } = await world();
  const verifier = createCredentialVerifier({
    keys: jwksFromKeys(keys.jwks),
    issuers: [meshIssuer.orchestrator],
    acceptsAudience: (a) => a === meshAudience.tool('create_ticket'),
    clock,
  });
  const claims = { principal, requestId: 'r', audience: meshAudience.tool('create_ticket') };
  const token = await orchestrator.issue(claims);
  await expect(verifier.verify(token)).resolves.toBeDefined();

  await clock.advance(66_000);
  expect(await reason(verifier.verify(token))).toMatch(/expired/);

  // Replayed at a service that serves another tool.
  expect(
    await reason(verifier.verify(await orchestrator.issue({ ...claims, audience: meshAudience.tool('x') }))),
  ).toMatch(/not meant for this service/);
  // The gateway's credentials are not good at tool services.
  expect(await reason(verifier.verify(await gateway.issue(claims)))).toMatch(/rejected: iss|not valid/);

  // A key nobody published, even with the orchestrator's name and a plausible kid.
  const stranger = await generateMeshKeys([meshIssuer.orchestrator]);
  const forged = createCredentialIssuer({
    issuer: meshIssuer.orchestrator,
    signingKey: () =>
      importSigningKey({ ...stranger.privateKeys[meshIssuer.orchestrator], kid: keys.jwks.keys[1]?.kid }),
    clock,
  });
  expect(await reason(verifier.verify(await forged.issue(claims)))).toMatch(/not valid/);

  // The gateway's key signing as the orchestrator: the key id names its real owner.
  const gatewayKey = await importSigningKey(keys.privateKeys[meshIssuer.gateway] ?? {});
  const impostor = await new SignJWT({ tenant_id: 't_demo', permissions: [] })
    .setProtectedHeader({ alg: 'EdDSA', kid: gatewayKey.kid })
    .setIssuer(meshIssuer.orchestrator)
    .setSubject('u_1001')
    .setAudience(meshAudience.tool('create_ticket'))
    .setIssuedAt(clock.now() / 1000)
    .setExpirationTime(clock.now() / 1000 + 60)
    .sign(gatewayKey.key);
  expect(await reason(verifier.verify(impostor))).toMatch(/another issuer/);

  const [head, body, signature] = token.split('.');
  const payload = JSON.parse(Buffer.from(body ?? '', 'base64url').toString());
  const tampered = Buffer.from(JSON.stringify({ ...payload, sub: 'u_2002' })).toString('base64url');
  expect(await reason(verifier.verify(`${head}.${tampered}.${signature}`))).toMatch(/not valid/);
  const none = Buffer.from(JSON.stringify({ alg: 'none', kid: keys.jwks.keys[1]?.kid })).toString(
    'base64url',
  );
  expect(await reason(verifier.verify(`${none}.${body}.`))).toMatch(/not valid/);
});

test('keys rotate through the files without a restart: the JWKS first, then the signing key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-keys-'));
  try {
    const before = await generateMeshKeys([meshIssuer.orchestrator]);
    const after = await generateMeshKeys([meshIssuer.orchestrator]);
    const keyFile = join(dir, 'key.json');
    const jwksFile = join(dir, 'jwks.json');
    await writeFile(keyFile, JSON.stringify(before.privateKeys[meshIssuer.orchestrator]));
    await writeFile(jwksFile, JSON.stringify(before.jwks));
    const issuer = createCredentialIssuer({
      issuer: meshIssuer.orchestrator,
      signingKey: signingKeyFromFile({ path: keyFile, clock }),
      clock,
    });
    const verifier = createCredentialVerifier({
      keys: jwksFromFile({ path: jwksFile, clock }),
      issuers: [meshIssuer.orchestrator],
      acceptsAudience: () => true,
      clock,
    });
    const claims = { principal, requestId: 'r', audience: meshAudience.orchestrator };
    const old = await issuer.issue(claims);
    await verifier.verify(old);

    // Both public keys published, then the new private key in place.
    await writeFile(jwksFile, JSON.stringify({ keys: [...before.jwks.keys, ...after.jwks.keys] }));
    await writeFile(keyFile, JSON.stringify(after.privateKeys[meshIssuer.orchestrator]));
    await clock.advance(6_000);
    const fresh = await issuer.issue(claims);
    expect(JSON.parse(Buffer.from(fresh.split('.')[0] ?? '', 'base64url').toString()).kid).toBe(
      after.jwks.keys[0]?.kid,
    );
    await expect(verifier.verify(fresh)).resolves.toBeDefined();
    await expect(verifier.verify(await issuer.issue(claims))).resolves.toBeDefined();
    // The old key retired from the JWKS: what it signed is no longer accepted.
    await writeFile(jwksFile, JSON.stringify(after.jwks));
    await clock.advance(6_000);
    const stale = await createCredentialIssuer({
      issuer: meshIssuer.orchestrator,
      signingKey: () => importSigningKey(before.privateKeys[meshIssuer.orchestrator] ?? {}),
      clock,
    }).issue(claims);
    expect(await reason(verifier.verify(stale))).toMatch(/not valid/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
