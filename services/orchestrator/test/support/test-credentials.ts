// The orchestrator's tool-call credentials for in-process tests: a real issuer on a key made
// for the run, so the executor signs every call exactly as in production.
import { createCredentialIssuer, generateMeshKeys, importSigningKey, meshIssuer } from '@toolmesh/rpc';
import { createToolCredentials, type ToolCredentials } from '../../src/tools/index.ts';

const key = generateMeshKeys([meshIssuer.orchestrator]).then((k) =>
  importSigningKey(k.privateKeys[meshIssuer.orchestrator] ?? {}),
);

/** Tool credentials signed with a key of this test run; every tool counts as a read for delegation. */
export function testToolCredentials(): ToolCredentials {
  const issuer = createCredentialIssuer({ issuer: meshIssuer.orchestrator, signingKey: () => key });
  return createToolCredentials(issuer, { isReadTool: () => true });
}
