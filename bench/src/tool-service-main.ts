// Child process: a tool service built with the tool-sdk, as a tool team would ship it.
// Arguments: --jwks FILE (the mesh's public keys: only calls signed with them get in),
// --echo (the echo tool of the tool-hop benchmark), --dummies N and --permission P
// (N extra tools, offered to users holding P, for the scaling benchmark).
import { parseArgs } from 'node:util';
import { loadVerificationKeys } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createToolServer } from '@toolmesh/tool-sdk';
import { createDummyTools } from './create-dummy-tools.ts';
import { createEchoTool } from './create-echo-tool.ts';
import { reportReady } from './report-ready.ts';

const { values } = parseArgs({
  options: {
    jwks: { type: 'string' },
    echo: { type: 'boolean', default: false },
    dummies: { type: 'string', default: '0' },
    permission: { type: 'string', default: 'bench:read' },
  },
});
if (!values.jwks) throw new Error('--jwks FILE is required: a tool service admits only signed calls');
// The services' default level: per-call lines are debug, so none are written.
const logger = createLogger({ service: 'bench-tools', level: 'info' });
const tools = [
  ...(values.echo ? [createEchoTool()] : []),
  ...createDummyTools(Number(values.dummies), values.permission),
];
const server = createToolServer({
  logger,
  tools,
  meshKeys: await loadVerificationKeys({ file: values.jwks }),
});
const port = await server.listen(0);
server.health.setAll(true);
reportReady(port, () => void server.shutdown(0));
