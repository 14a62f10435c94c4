import { createManualClock } from '@toolmesh/clock';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import {
  createCredentialIssuer,
  createCredentialVerifier,
  generateMeshKeys,
  importSigningKey,
  jwksFromKeys,
  meshAudience,
  meshIssuer,
} from '../src/index.ts';

// The mesh credential is signed and verified by our own code (see compact-jws.ts); these tests pin
// that it stays a standard JWT both ways, and that what jose would refuse is refused here too.

const principal = { userId: 'u_1001', tenantId: 't_demo', permissions: ['order:read'] };
const clock = createManualClock({ start: Date.UTC(2026, 11, 2, 12) });
const claims = { principal, requestId: 'r-1', audience: meshAudience.orchestrator };
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function es256Keys() {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `${meshIssuer.gateway}/es256`;
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
  };
}

function verifierFor(jwks: Parameters<typeof jwksFromKeys>[0]) {
  return createCredentialVerifier({
    keys: jwksFromKeys(jwks),
    issuers: [meshIssuer.gateway],
    acceptsAudience: (a) => a === meshAudience.orchestrator,
    clock,
  });
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: Error) => e.message,
  );

test.each(['EdDSA', 'ES256'] as const)(
  'an %s credential is a JWT that jose verifies, and a jose JWT verifies here',
  async (alg) => {
    const keys =
      alg === 'EdDSA'
        ? await generateMeshKeys([meshIssuer.gateway]).then((k) => ({
            privateJwk: k.privateKeys[meshIssuer.gateway] ?? {},
            jwks: k.jwks,
          }))
        : await es256Keys();
    const signing = await importSigningKey(keys.privateJwk);
    const issuer = createCredentialIssuer({
      issuer: meshIssuer.gateway,
      signingKey: async () => signing,
      clock,
    });
    const token = await issuer.issue(claims);

    const { payload, protectedHeader } = await jwtVerify(token, jwksFromKeys(keys.jwks), {
      issuer: meshIssuer.gateway,
      audience: meshAudience.orchestrator,
      currentDate: new Date(clock.now()),
    });
    expect(protectedHeader).toEqual({ alg, kid: signing.kid, typ: 'JWT' });
    expect(payload).toMatchObject({ sub: 'u_1001', tenant_id: 't_demo', request_id: 'r-1' });

    const fromJose = await new SignJWT({ tenant_id: 't_demo', permissions: ['order:read'] })
      .setProtectedHeader({ alg, kid: signing.kid })
      .setIssuer(meshIssuer.gateway)
      .setSubject('u_1001')
      .setAudience(meshAudience.orchestrator)
      .setIssuedAt(clock.now() / 1000)
      .setExpirationTime(clock.now() / 1000 + 60)
      .sign(signing.key);
    await expect(verifierFor(keys.jwks).verify(fromJose)).resolves.toMatchObject({ principal });
    await expect(verifierFor(keys.jwks).verify(token)).resolves.toMatchObject({
      principal,
      requestId: 'r-1',
    });
  },
);

test('critical headers, a wrong key kind, missing or future claims and bad signatures are refused', async () => {
  const keys = await generateMeshKeys([meshIssuer.gateway]);
  const jwk = keys.privateKeys[meshIssuer.gateway] ?? {};
  const signing = await importSigningKey(jwk);
  const verifier = verifierFor(keys.jwks);
  const now = clock.now() / 1000;
  const good = {
    iss: meshIssuer.gateway,
    sub: 'u_1001',
    aud: meshAudience.orchestrator,
    iat: now,
    exp: now + 60,
  };
  const sign = (header: Record<string, unknown>, payload: Record<string, unknown>) =>
    new SignJWT({ tenant_id: 't_demo', permissions: [], ...payload })
      .setProtectedHeader({ alg: 'EdDSA', kid: signing.kid, ...header })
      .sign(signing.key, { crit: { 'x-ext': true } });

  expect(await refusal(verifier.verify(await sign({}, good)))).toBe('accepted');
  // A critical extension nobody here understands.
  expect(await refusal(verifier.verify(await sign({ crit: ['x-ext'], 'x-ext': 1 }, good)))).toMatch(
    /not valid/,
  );
  expect(await refusal(verifier.verify(await sign({}, { ...good, nbf: now + 60 })))).toMatch(/rejected: nbf/);
  const { iat: _iat, ...withoutIat } = good;
  expect(await refusal(verifier.verify(await sign({}, withoutIat)))).toMatch(/rejected: iat/);
  expect(await refusal(verifier.verify(await sign({}, { ...good, exp: String(now + 60) })))).toMatch(
    /rejected: exp/,
  );

  const token = await sign({}, good);
  const [head, body, signature = ''] = token.split('.');
  // A signature of the wrong length, and one of the right length that is not the key's.
  expect(await refusal(verifier.verify(`${head}.${body}.${signature.slice(0, 40)}`))).toMatch(/not valid/);
  const other = Buffer.from(signature, 'base64url');
  other[0] = (other[0] ?? 0) ^ 1;
  expect(await refusal(verifier.verify(`${head}.${body}.${other.toString('base64url')}`))).toMatch(
    /not valid/,
  );
  // The header names ES256 while the key set holds the Ed25519 key under that kid.
  const es256Header = encode({ alg: 'ES256', kid: signing.kid });
  expect(await refusal(verifier.verify(`${es256Header}.${body}.${signature}`))).toMatch(/not valid/);
  expect(await refusal(verifier.verify(`${head}.${body}`))).toMatch(/not valid/);
  expect(await refusal(verifier.verify(`${encode('x')}.${body}.${signature}`))).toMatch(/not valid/);
});

test('a signing key that is public, of another curve, or of an algorithm the mesh does not allow is refused', async () => {
  const keys = await generateMeshKeys([meshIssuer.gateway]);
  const jwk = keys.privateKeys[meshIssuer.gateway] ?? {};
  const { d: _d, ...publicOnly } = jwk;
  await expect(importSigningKey(publicOnly)).rejects.toThrow(/not a private key/);
  await expect(importSigningKey({ ...jwk, alg: 'RS256' })).rejects.toThrow(/alg must be one of/);
  await expect(importSigningKey({ ...jwk, alg: 'ES256' })).rejects.toThrow(/curve P-256/);
  await expect(importSigningKey({ ...jwk, d: 'AAAA' })).rejects.toThrow(/not a usable JWK/);
});
