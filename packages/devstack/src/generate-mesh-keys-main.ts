// Writes a new set of mesh keys into the folder given as the only argument: gateway.key.json and
// orchestrator.key.json (private, 0600: the Secrets of those two services) and jwks.json (public:
// the ConfigMap every service mounts). Run once per deployment, and again to rotate (see
// docs/security.md for the order of a rotation without downtime).
import { writeMeshKeyFiles } from '@toolmesh/rpc';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node packages/devstack/src/generate-mesh-keys-main.ts <folder>');
  process.exit(2);
}
const files = await writeMeshKeyFiles(dir);
console.log(`mesh keys written: ${files.gatewayKeyFile}, ${files.orchestratorKeyFile}, ${files.jwksFile}`);
