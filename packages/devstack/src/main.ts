// `npm start`: the whole mesh on this machine, each service its own process, supervised.
// The CLI entry of devstack: the only place here that reads argv and the environment.
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { describeSupervisorEvent } from './describe-supervisor-event.ts';
import { type DataDir, prepareDataDir } from './prepare-data-dir.ts';
import { defaultMetricsPorts, defaultPorts, type MetricsService, startMesh } from './start-mesh.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const args = parseArgs({
  options: { fresh: { type: 'boolean', default: false } },
  strict: true,
}).values;

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);
const env = z
  .object({
    TOOLMESH_GATEWAY_PORT: port(defaultPorts.gateway),
    TOOLMESH_ORCHESTRATOR_PORT: port(defaultPorts.orchestrator),
    TOOLMESH_ORDER_PORT: port(defaultPorts.order),
    TOOLMESH_INVENTORY_PORT: port(defaultPorts.inventory),
    TOOLMESH_DISPATCH_PORT: port(defaultPorts.dispatch),
    TOOLMESH_TICKET_PORT: port(defaultPorts.ticket),
    TOOLMESH_MCP_BRIDGE_PORT: port(defaultPorts.mcpBridge),
    TOOLMESH_MODEL_PORT: port(defaultPorts.model),
    TOOLMESH_EMBEDDED_DB_PORT: port(defaultPorts.database),
    TOOLMESH_GATEWAY_METRICS_PORT: port(defaultMetricsPorts.gateway),
    TOOLMESH_ORCHESTRATOR_METRICS_PORT: port(defaultMetricsPorts.orchestrator),
    TOOLMESH_ORDER_METRICS_PORT: port(defaultMetricsPorts.order),
    TOOLMESH_INVENTORY_METRICS_PORT: port(defaultMetricsPorts.inventory),
    TOOLMESH_DISPATCH_METRICS_PORT: port(defaultMetricsPorts.dispatch),
    TOOLMESH_TICKET_METRICS_PORT: port(defaultMetricsPorts.ticket),
    TOOLMESH_MCP_BRIDGE_METRICS_PORT: port(defaultMetricsPorts['mcp-bridge']),
    DATABASE_URL: z.string().url().optional(),
    OPENAI_BASE_URL: z.string().url().optional(),
    OPENAI_API_KEY: z.string().optional(),
    TOOLMESH_MODEL: z.string().optional(),
    // The assistants file (relative to the current directory); default the demo's.
    TOOLMESH_ASSISTANTS: z.string().min(1).default(resolve(root, 'config/assistants.yaml')),
    // Who may publish which tool names (relative to the current directory); default the demo's.
    TOOLMESH_PUBLISHING_POLICY: z.string().min(1).default(resolve(root, 'config/publishing-policy.yaml')),
    // The MCP servers file (relative to the current directory); set, the MCP bridge runs.
    TOOLMESH_MCP_SERVERS: z.string().min(1).optional(),
    TOOLMESH_QUIET: z.enum(['0', '1']).default('0'),
    // The embedded database's folder (relative to the current directory), and starting it from empty.
    TOOLMESH_DATA_DIR: z.string().min(1).default(resolve(root, '.toolmesh/data')),
    TOOLMESH_FRESH: z.enum(['0', '1']).default('0'),
    // Orchestrator processes (the gateway balances over all of them) and gateway processes.
    TOOLMESH_ORCHESTRATORS: z.coerce.number().int().min(1).max(16).default(1),
    TOOLMESH_GATEWAYS: z.coerce.number().int().min(1).max(16).default(1),
  })
  .parse(process.env);

const started = performance.now();
console.log('toolmesh: starting the mesh …');
const fresh = args.fresh || env.TOOLMESH_FRESH === '1';
let data: DataDir | undefined;
if (env.DATABASE_URL) {
  if (fresh)
    console.log('toolmesh: --fresh applies to the embedded database only; DATABASE_URL is left as it is');
} else {
  data = await prepareDataDir({ dir: resolve(env.TOOLMESH_DATA_DIR), fresh }).catch((error: unknown) => {
    console.error(`toolmesh: failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
const mesh = await startMesh({
  supervise: { onEvent: (event) => console.log(`toolmesh: ${describeSupervisorEvent(event)}`) },
  embeddedDatabaseDir: data?.pgliteDir,
  ports: {
    gateway: env.TOOLMESH_GATEWAY_PORT,
    orchestrator: env.TOOLMESH_ORCHESTRATOR_PORT,
    order: env.TOOLMESH_ORDER_PORT,
    inventory: env.TOOLMESH_INVENTORY_PORT,
    dispatch: env.TOOLMESH_DISPATCH_PORT,
    ticket: env.TOOLMESH_TICKET_PORT,
    mcpBridge: env.TOOLMESH_MCP_BRIDGE_PORT,
    model: env.TOOLMESH_MODEL_PORT,
    database: env.TOOLMESH_EMBEDDED_DB_PORT,
  },
  metricsPorts: {
    gateway: env.TOOLMESH_GATEWAY_METRICS_PORT,
    orchestrator: env.TOOLMESH_ORCHESTRATOR_METRICS_PORT,
    order: env.TOOLMESH_ORDER_METRICS_PORT,
    inventory: env.TOOLMESH_INVENTORY_METRICS_PORT,
    dispatch: env.TOOLMESH_DISPATCH_METRICS_PORT,
    ticket: env.TOOLMESH_TICKET_METRICS_PORT,
    'mcp-bridge': env.TOOLMESH_MCP_BRIDGE_METRICS_PORT,
  },
  databaseUrl: env.DATABASE_URL,
  orchestrators: env.TOOLMESH_ORCHESTRATORS,
  gateways: env.TOOLMESH_GATEWAYS,
  assistantsFile: resolve(env.TOOLMESH_ASSISTANTS),
  publishingPolicyFile: resolve(env.TOOLMESH_PUBLISHING_POLICY),
  mcpServersFile: env.TOOLMESH_MCP_SERVERS ? resolve(env.TOOLMESH_MCP_SERVERS) : undefined,
  model: env.OPENAI_BASE_URL
    ? { baseUrl: env.OPENAI_BASE_URL, apiKey: env.OPENAI_API_KEY, name: env.TOOLMESH_MODEL }
    : undefined,
  onLine:
    env.TOOLMESH_QUIET === '1' ? undefined : (service, line) => console.log(`${service.padEnd(14)}| ${line}`),
}).catch((error: unknown) => {
  console.error(`toolmesh: failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

const { ports } = mesh;
const metrics = (service: MetricsService) => mesh.metricsUrls[service] ?? '';
const rows: [string, string, string, string][] = [
  ['gateway', `127.0.0.1:${ports.gateway}`, metrics('gateway'), 'toolmesh.v1.ChatService (public)'],
  [
    'orchestrator',
    `127.0.0.1:${ports.orchestrator}`,
    metrics('orchestrator'),
    "toolmesh.v1.ChatService (internal: the gateway's credentials only)",
  ],
  ...mesh.orchestratorAddresses
    .slice(1)
    .map((address, i): [string, string, string, string] => [
      `orchestrator#${i + 2}`,
      address,
      mesh.metricsUrls[`orchestrator#${i + 2}`] ?? '',
      'another orchestrator replica (every gateway balances over all)',
    ]),
  ...mesh.gatewayAddresses
    .slice(1)
    .map((address, i): [string, string, string, string] => [
      `gateway#${i + 2}`,
      address,
      mesh.metricsUrls[`gateway#${i + 2}`] ?? '',
      'toolmesh.v1.ChatService (public), another gateway replica',
    ]),
  ['order', `127.0.0.1:${ports.order}`, metrics('order'), 'toolmesh.v1.ToolService (internal)'],
  ['inventory', `127.0.0.1:${ports.inventory}`, metrics('inventory'), 'toolmesh.v1.ToolService (internal)'],
  ['dispatch', `127.0.0.1:${ports.dispatch}`, metrics('dispatch'), 'toolmesh.v1.ToolService (internal)'],
  ['ticket', `127.0.0.1:${ports.ticket}`, metrics('ticket'), 'toolmesh.v1.ToolService (internal)'],
];
if (env.TOOLMESH_MCP_SERVERS)
  rows.push([
    'mcp-bridge',
    `127.0.0.1:${ports.mcpBridge}`,
    metrics('mcp-bridge'),
    'toolmesh.v1.ToolService (internal): the tools of TOOLMESH_MCP_SERVERS',
  ]);
if (!env.OPENAI_BASE_URL)
  rows.push(['scripted-model', `http://127.0.0.1:${ports.model}/v1`, '', 'OpenAI-compatible stand-in']);
else rows.push(['model', env.OPENAI_BASE_URL, '', 'OpenAI-compatible model']);
rows.push(
  env.DATABASE_URL
    ? ['database', 'DATABASE_URL', '', 'PostgreSQL']
    : ['embedded-db', `127.0.0.1:${ports.database}`, '', 'PGlite (Postgres in WASM)'],
);
const shown = (path: string) => {
  const inRepo = relative(process.cwd(), path);
  return inRepo && !inRepo.startsWith('..') ? inRepo : path;
};
const dataLine = data
  ? `data: ${shown(data.dir)} (${
      {
        kept: 'kept from the last run; npm start -- --fresh starts from empty',
        new: 'new; kept for the next run',
        fresh: 'fresh: started from empty',
      }[data.state]
    })`
  : 'data: in the database at DATABASE_URL';
const table = [['service', 'listens on', 'metrics', 'serves'] as const, ...rows]
  .map(([name, where, scrape, what]) => `  ${name.padEnd(15)}${where.padEnd(34)}${scrape.padEnd(36)}${what}`)
  .join('\n');
console.log(`
toolmesh is up in ${((performance.now() - started) / 1000).toFixed(1)} s

${table}

  ${dataLine}
  assistants: ${shown(resolve(env.TOOLMESH_ASSISTANTS))} (reloaded on change; TOOLMESH_ASSISTANTS names another file)
  publishing policy: ${shown(resolve(env.TOOLMESH_PUBLISHING_POLICY))} (who may publish which tool; TOOLMESH_PUBLISHING_POLICY)
  mesh keys: new for this run (${shown(mesh.meshKeys.jwksFile)}); internal ports answer only calls signed with them

Try it:
  grpcurl -plaintext -H 'authorization: Bearer dev-key-u1001' \\
    -d '{"message":"Where is my order 202604100018? I also need an invoice for it."}' \\
    127.0.0.1:${ports.gateway} toolmesh.v1.ChatService/Chat

A service that crashes is restarted. Ctrl-C stops everything.
`);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) {
    // A second Ctrl-C: do not wait for a slow drain.
    console.log('toolmesh: stopping now');
    for (const proc of mesh.processes.values()) proc.child.kill('SIGKILL');
    process.exit(1);
  }
  stopping = true;
  console.log(`toolmesh: ${signal}, stopping …`);
  mesh.stop().then(() => process.exit(0));
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
