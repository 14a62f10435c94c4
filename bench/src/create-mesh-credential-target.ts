import { createCredentialVerifier, jwksFrom, meshAudience, meshIssuer } from '@toolmesh/rpc';
import { createBenchIssuer } from './bench-mesh-keys.ts';
import { benchPrincipal } from './bench-principal.ts';
import type { CallTarget } from './call-target.ts';

const toolName = 'echo';
// Well inside the credential's 60 s lifetime.
const resignAfterMs = 30_000;

/**
 * One tool call's mesh credential, in process: `sign` issues it as the orchestrator does per
 * call (EdDSA, its key from its file); `verify` checks it as createToolServer does (key by kid
 * from the JWKS file, signature, algorithm, expiry, issuer, audience, principal claims).
 */
export function createMeshCredentialTarget(
  op: 'sign' | 'verify',
  signingKeyFile: string,
  jwksFile: string,
): CallTarget {
  const issuer = createBenchIssuer(signingKeyFile);
  let n = 0;
  const issue = () => {
    const callId = `call_${++n}`;
    return issuer.issue({
      principal: benchPrincipal,
      requestId: callId,
      audience: meshAudience.tool(toolName),
      tool: toolName,
      callId,
      idempotencyKey: callId,
    });
  };
  if (op === 'sign') {
    return {
      counters: {},
      async call() {
        if (!(await issue())) throw new Error('no token');
      },
      close: async () => {},
    };
  }
  const verifier = createCredentialVerifier({
    keys: jwksFrom({ file: jwksFile }),
    issuers: [meshIssuer.orchestrator],
    acceptsAudience: (audience) => audience === meshAudience.tool(toolName),
  });
  let token = '';
  let signedAt = Number.NEGATIVE_INFINITY;
  return {
    counters: {},
    async call() {
      if (performance.now() - signedAt > resignAfterMs) {
        token = await issue();
        signedAt = performance.now();
      }
      const credential = await verifier.verify(token);
      if (credential.tool !== toolName) throw new Error('verified the wrong credential');
    },
    close: async () => {},
  };
}
