import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MeshKeyFiles, waitForServing, writeMeshKeyFiles } from '@toolmesh/rpc';
import { createSupervisor, type Supervisor, type SupervisorOptions } from './create-supervisor.ts';
import { describeSupervisorEvent } from './describe-supervisor-event.ts';
import { freePort } from './free-port.ts';
import { type ServiceProcess, spawnService } from './spawn-service.ts';
import { waitForPort } from './wait-for-port.ts';

/** The mesh's listening ports (DESIGN.md dev defaults). */
export interface MeshPorts {
  gateway: number;
  orchestrator: number;
  order: number;
  inventory: number;
  dispatch: number;
  ticket: number;
  /** Scripted model (only when no real model is configured). */
  model: number;
  /** Embedded database (only without a database URL). */
  database: number;
  /** MCP bridge (only with an MCP servers file). */
  mcpBridge: number;
}

/** The ports `npm start` uses unless told otherwise. */
export const defaultPorts: MeshPorts = {
  gateway: 8080,
  orchestrator: 50051,
  order: 50061,
  inventory: 50062,
  dispatch: 50063,
  ticket: 50064,
  model: 50070,
  database: 55432,
  mcpBridge: 50065,
};

/** The services that serve Prometheus /metrics. */
export type MetricsService =
  | 'gateway'
  | 'orchestrator'
  | 'order'
  | 'inventory'
  | 'dispatch'
  | 'ticket'
  | 'mcp-bridge';

/** The /metrics ports of `npm start` (DESIGN.md dev defaults). */
export const defaultMetricsPorts: Record<MetricsService, number> = {
  gateway: 9400,
  orchestrator: 9401,
  order: 9411,
  inventory: 9412,
  dispatch: 9413,
  ticket: 9414,
  'mcp-bridge': 9415,
};

/** Options of {@link startMesh}. */
export interface MeshOptions {
  ports?: Partial<MeshPorts>;
  /** Real Postgres for every service; absent starts one embedded PGlite process. */
  databaseUrl?: string;
  /** Where the embedded PGlite keeps its data across runs; absent: in memory, gone when the mesh stops. */
  embeddedDatabaseDir?: string;
  /** A real OpenAI-compatible model; absent starts the scripted model. */
  model?: { baseUrl: string; apiKey?: string; name?: string };
  /**
   * The orchestrator's assistants file (TOOLMESH_ASSISTANTS); absent: its neutral default
   * assistant. `npm start` passes the repository's config/assistants.yaml unless told otherwise.
   */
  assistantsFile?: string;
  /**
   * The orchestrator's publishing policy (TOOLMESH_PUBLISHING_POLICY): which service may publish
   * which tool names, and version weights; absent: any service may publish any name. `npm start`
   * passes the repository's config/publishing-policy.yaml unless told otherwise.
   */
  publishingPolicyFile?: string;
  /**
   * The MCP servers file (TOOLMESH_MCP_SERVERS): when given, the MCP bridge runs as one more
   * tool service and serves those servers' tools; absent, it does not run.
   */
  mcpServersFile?: string;
  /**
   * Extra environment for every service (e.g. LOG_LEVEL), or per process name; the entry of
   * "orchestrator" (or "gateway") applies to every replica of it, "orchestrator#2"'s to that one.
   */
  env?: NodeJS.ProcessEnv;
  serviceEnv?: Record<string, NodeJS.ProcessEnv>;
  /** Receives every line a service prints. */
  onLine?: (service: string, line: string) => void;
  /** More tool services (host:port) for the orchestrator, e.g. one a test runs in-process. */
  extraToolServices?: string[];
  /** Ports of more replicas of a demo tool service (named e.g. "order#2"). */
  replicas?: Partial<Record<(typeof toolServices)[number], number[]>>;
  /** Where the orchestrator reaches a demo tool service, e.g. through a fault-injecting proxy. */
  toolServiceAddresses?: Partial<Record<(typeof toolServices)[number], string>>;
  /**
   * Discovery through etcd instead of static addresses: tool services register
   * themselves under the prefix and the orchestrator watches it; orchestrators register
   * under `orchestratorPrefix` (default: the prefix with "services/" made "orchestrators/")
   * and the gateways watch that.
   */
  etcd?: { endpoint: string; prefix?: string; orchestratorPrefix?: string };
  /**
   * Orchestrator processes; default 1. The first listens on `ports.orchestrator`, the others
   * (named "orchestrator#2", …) on free ports; every gateway balances over all of them.
   */
  orchestrators?: number;
  /** Gateway processes; default 1. The first on `ports.gateway`, the others ("gateway#2", …) on free ports. */
  gateways?: number;
  /** Startup budget per step; default 60 s. */
  startTimeoutMs?: number;
  /**
   * /metrics ports; a service not named here (and every extra replica) gets a free port,
   * so meshes of parallel tests never collide. `npm start` passes the DESIGN.md defaults.
   */
  metricsPorts?: Partial<Record<MetricsService, number>>;
  /**
   * Restart a service that exits unexpectedly, with backoff, as `npm start` does; default off
   * (tests that crash a service on purpose see it stay down). `true` is the default policy and
   * reports through `onLine('supervisor', …)`; an object sets the policy, the clock or the event sink.
   */
  supervise?: boolean | SupervisorOptions;
  /**
   * The mesh's signing keys and public JWKS (see writeMeshKeyFiles); absent: new ones are made
   * for this start in a private temporary folder, removed when the mesh stops.
   */
  meshKeys?: MeshKeyFiles;
}

/** A running mesh. */
export interface Mesh {
  readonly ports: MeshPorts;
  /** host:port of every gRPC server, by service name. */
  readonly grpcAddresses: Record<
    'gateway' | 'orchestrator' | 'order' | 'inventory' | 'dispatch' | 'ticket',
    string
  >;
  /** host:port of every orchestrator, in process order ("orchestrator", "orchestrator#2", …). */
  readonly orchestratorAddresses: readonly string[];
  /** host:port of every gateway, in process order ("gateway", "gateway#2", …). */
  readonly gatewayAddresses: readonly string[];
  /** http://host:port/metrics of every service that serves it, by process name ("order", "order#2", …). */
  readonly metricsUrls: Readonly<Record<string, string>>;
  /** The current process of every service (a restarted service's new process). */
  readonly processes: ReadonlyMap<string, ServiceProcess>;
  /** Present when the mesh supervises its services. */
  readonly supervisor: Supervisor<ServiceProcess> | undefined;
  /** The key files the services sign and verify mesh credentials with. */
  readonly meshKeys: MeshKeyFiles;
  /** Kills one service abruptly (SIGKILL): a crash, not a shutdown. A supervised mesh restarts it. */
  kill(name: string): Promise<void>;
  /** Starts a stopped or killed service again, as it was, and waits until it is healthy. */
  restart(name: string): Promise<void>;
  /** Stops every process, the gateway first and the database last. */
  stop(): Promise<void>;
}

const host = '127.0.0.1';
const root = fileURLToPath(new URL('../../../', import.meta.url));
const entry = (path: string) => `${root}${path}`;
const toolServices = ['order', 'inventory', 'dispatch', 'ticket'] as const;
// The gateway's objects live for a call: a small young generation (V8 sizes it for throughput,
// up to 64 MiB a semi-space) keeps each scavenge short, as its image starts it too. Measured:
// half the event-loop stall time, no pause over 100 ms (bench/HISTORY.md, "The gateway's stalls").
const gatewayNodeArgs = ['--max-semi-space-size=8'] as const;
// "orchestrator#2" → "orchestrator": replicas of these share their first process's serviceEnv.
const replicaOf = (name: string) => {
  const base = name.split('#')[0] ?? '';
  return name !== base && (base === 'orchestrator' || base === 'gateway') ? base : undefined;
};

/**
 * Starts every service of the mesh as its own process, in dependency order, each
 * waited for until it is healthy. Any failure stops what was started and reports
 * the failing service's last lines.
 */
export async function startMesh(options: MeshOptions = {}): Promise<Mesh> {
  const ports: MeshPorts = { ...defaultPorts, ...options.ports };
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const started: ServiceProcess[] = [];
  const processes = new Map<string, ServiceProcess>();
  const supervise = options.supervise;
  const supervisor = supervise
    ? createSupervisor<ServiceProcess>({
        ...(typeof supervise === 'object' ? supervise : {}),
        onEvent:
          (typeof supervise === 'object' ? supervise.onEvent : undefined) ??
          ((event) => options.onLine?.('supervisor', describeSupervisorEvent(event))),
      })
    : undefined;
  const at = (port: number) => `${host}:${port}`;
  const metricsPorts = new Map<string, number>();
  // Picked before anything starts, so a restarted service keeps its port.
  const metricsPort = async (id: string, service: MetricsService) => {
    const port = (id === service ? options.metricsPorts?.[service] : undefined) ?? (await freePort());
    metricsPorts.set(id, port);
    return String(port);
  };
  const toolPrefix = options.etcd?.prefix ?? '/toolmesh/services/';
  // Never under the tool services' prefix: the orchestrators would take each other for tool services.
  const orchestratorPrefix =
    options.etcd?.orchestratorPrefix ??
    (toolPrefix.endsWith('services/')
      ? `${toolPrefix.slice(0, -'services/'.length)}orchestrators/`
      : `${toolPrefix.replace(/\/$/, '')}-orchestrators/`);
  const discoveryEnv: NodeJS.ProcessEnv = options.etcd
    ? {
        DISCOVERY: 'etcd',
        ETCD_ENDPOINTS: options.etcd.endpoint,
        DISCOVERY_PREFIX: toolPrefix,
        ORCHESTRATOR_DISCOVERY_PREFIX: orchestratorPrefix,
      }
    : {};
  // Extra orchestrators and gateways: "orchestrator#2", "gateway#2" … on free ports, picked now
  // so a restarted one keeps its port.
  const replicaPorts = async (first: number, count: number, name: string) => {
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`${name}s: expected a whole number ≥ 1, got ${count}`);
    const list = [{ id: name, port: first }];
    for (let i = 2; i <= count; i++) list.push({ id: `${name}#${i}`, port: await freePort() });
    return list;
  };
  const orchestratorProcesses = await replicaPorts(
    ports.orchestrator,
    options.orchestrators ?? 1,
    'orchestrator',
  );
  const gatewayProcesses = await replicaPorts(ports.gateway, options.gateways ?? 1, 'gateway');

  // Zero trust needs keys even for a demo: made per start unless given, never reused by accident.
  const keysDir = options.meshKeys ? undefined : await mkdtemp(join(tmpdir(), 'toolmesh-mesh-keys-'));
  const meshKeys = options.meshKeys ?? (await writeMeshKeyFiles(keysDir ?? ''));
  const verifyEnv = { TOOLMESH_MESH_JWKS_FILE: meshKeys.jwksFile };

  const launches = new Map<string, () => ServiceProcess>();
  const readiness = new Map<string, (signal: AbortSignal) => Promise<void>>();
  const launch = (name: string, path: string, env: NodeJS.ProcessEnv, nodeArgs?: readonly string[]) => {
    const start = () => {
      const proc = spawnService({
        name,
        entry: entry(path),
        nodeArgs,
        // The children inherit the launcher's environment (PATH, NODE_OPTIONS …) as spawn would by
        // default; what configures the mesh comes from options only.
        env: {
          ...process.env,
          ...options.env,
          ...(replicaOf(name) ? options.serviceEnv?.[replicaOf(name) as string] : {}),
          ...options.serviceEnv?.[name],
          ...env,
          HOST: host,
        },
        onLine: options.onLine,
      });
      started.push(proc);
      processes.set(name, proc);
      return proc;
    };
    launches.set(name, start);
    return start();
  };
  const ready = async (proc: ServiceProcess, wait: (signal: AbortSignal) => Promise<void>) => {
    readiness.set(proc.name, wait);
    try {
      await wait(proc.exited);
    } catch (error) {
      const why = proc.exited.aborted ? `exited with code ${proc.child.exitCode}` : String(error);
      throw new Error(`${proc.name} did not start (${why}). Its last lines:\n${proc.tail()}`);
    }
    const start = launches.get(proc.name);
    if (supervisor && start)
      supervisor.supervise({ name: proc.name, process: proc, start, ready: (p) => wait(p.exited) });
  };
  // In reverse order of start: the gateway first, the database last; then anything left over.
  const stop = async () => {
    supervisor?.stop();
    for (const name of [...launches.keys()].reverse()) await processes.get(name)?.stop();
    for (const proc of started) await proc.stop();
    if (keysDir) await rm(keysDir, { recursive: true, force: true });
  };

  try {
    let databaseUrl = options.databaseUrl;
    if (!databaseUrl) {
      const db = launch('embedded-db', 'packages/devstack/src/embedded-db-main.ts', {
        PORT: String(ports.database),
        TOOLMESH_EMBEDDED_DB_DIR: options.embeddedDatabaseDir ?? '',
      });
      await ready(db, (signal) => waitForPort(host, ports.database, timeoutMs, signal));
      databaseUrl = `postgres://postgres@${at(ports.database)}/postgres?sslmode=disable`;
    }
    let model = options.model;
    if (!model) {
      const scripted = launch('scripted-model', 'services/scripted-model/src/main.ts', {
        PORT: String(ports.model),
      });
      await ready(scripted, (signal) => waitForPort(host, ports.model, timeoutMs, signal));
      model = { baseUrl: `http://${at(ports.model)}/v1` };
    }
    const toolProcesses = toolServices.flatMap((name) =>
      [ports[name], ...(options.replicas?.[name] ?? [])].map((port, i) => ({
        name,
        port,
        id: i ? `${name}#${i + 1}` : name,
      })),
    );
    await Promise.all(
      toolProcesses.map(async ({ name, port, id }) => {
        const proc = launch(id, `services/${name}/src/main.ts`, {
          PORT: String(port),
          METRICS_PORT: await metricsPort(id, name),
          DATABASE_URL: databaseUrl,
          ...discoveryEnv,
          ...verifyEnv,
          // The ticket service checks orders with the order service, as the same user.
          ...(name === 'ticket' ? { ORDER_SERVICE_ADDR: at(ports.order) } : {}),
        });
        return ready(proc, (signal) => waitForServing(at(port), { timeoutMs, signal }));
      }),
    );
    if (options.mcpServersFile) {
      const bridge = launch('mcp-bridge', 'services/mcp-bridge/src/main.ts', {
        PORT: String(ports.mcpBridge),
        METRICS_PORT: await metricsPort('mcp-bridge', 'mcp-bridge'),
        TOOLMESH_MCP_SERVERS: options.mcpServersFile,
        ...discoveryEnv,
        ...verifyEnv,
      });
      await ready(bridge, (signal) => waitForServing(at(ports.mcpBridge), { timeoutMs, signal }));
    }
    const orchestratorEnv = {
      DATABASE_URL: databaseUrl,
      ...discoveryEnv,
      ...verifyEnv,
      TOOLMESH_MESH_KEY_FILE: meshKeys.orchestratorKeyFile,
      // `service=host:port`: the service is the identity a publishing policy checks.
      TOOL_SERVICES: [
        ...toolServices.map((name) => `${name}=${options.toolServiceAddresses?.[name] ?? at(ports[name])}`),
        ...toolServices.flatMap((name) => (options.replicas?.[name] ?? []).map((p) => `${name}=${at(p)}`)),
        ...(options.mcpServersFile ? [`mcp-bridge=${at(ports.mcpBridge)}`] : []),
        ...(options.extraToolServices ?? []),
      ].join(','),
      OPENAI_BASE_URL: model.baseUrl,
      ...(model.apiKey ? { OPENAI_API_KEY: model.apiKey } : {}),
      ...(model.name ? { TOOLMESH_MODEL: model.name } : {}),
      ...(options.assistantsFile ? { TOOLMESH_ASSISTANTS: options.assistantsFile } : {}),
      ...(options.publishingPolicyFile ? { TOOLMESH_PUBLISHING_POLICY: options.publishingPolicyFile } : {}),
    };
    // One after the other: each migrates the same schemas (serialized by an advisory lock anyway).
    for (const { id, port } of orchestratorProcesses) {
      const orchestrator = launch(id, 'services/orchestrator/src/main.ts', {
        ...orchestratorEnv,
        PORT: String(port),
        METRICS_PORT: await metricsPort(id, 'orchestrator'),
      });
      await ready(orchestrator, (signal) => waitForServing(at(port), { timeoutMs, signal }));
    }
    await Promise.all(
      gatewayProcesses.map(async ({ id, port }) => {
        const gateway = launch(
          id,
          'services/gateway/src/main.ts',
          {
            PORT: String(port),
            METRICS_PORT: await metricsPort(id, 'gateway'),
            // Every gateway balances over every orchestrator: the list itself, or etcd's registrations.
            ORCHESTRATOR_ADDR: orchestratorProcesses.map((o) => at(o.port)).join(','),
            ...discoveryEnv,
            TOOLMESH_MESH_KEY_FILE: meshKeys.gatewayKeyFile,
          },
          gatewayNodeArgs,
        );
        await ready(gateway, (signal) => waitForServing(at(port), { timeoutMs, signal }));
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    ports,
    grpcAddresses: {
      gateway: at(ports.gateway),
      orchestrator: at(ports.orchestrator),
      order: at(ports.order),
      inventory: at(ports.inventory),
      dispatch: at(ports.dispatch),
      ticket: at(ports.ticket),
    },
    orchestratorAddresses: orchestratorProcesses.map((o) => at(o.port)),
    gatewayAddresses: gatewayProcesses.map((g) => at(g.port)),
    metricsUrls: Object.fromEntries(
      [...metricsPorts].map(([id, port]) => [id, `http://${at(port)}/metrics`]),
    ),
    processes,
    supervisor,
    meshKeys,
    stop,
    async kill(name) {
      const proc = processes.get(name);
      if (!proc || proc.exited.aborted) return;
      const gone = new Promise((resolve) => proc.child.once('exit', resolve));
      proc.child.kill('SIGKILL');
      await gone;
    },
    async restart(name) {
      const start = launches.get(name);
      const wait = readiness.get(name);
      if (!start || !wait) throw new Error(`unknown service ${name}`);
      const supervision = supervisor?.get(name);
      if (supervision) return supervision.restart();
      await processes.get(name)?.stop();
      await ready(start(), wait);
    },
  };
}

/** A free port for every service of {@link MeshPorts}: a mesh that runs beside others (tests, benchmarks). */
export async function freeMeshPorts(): Promise<MeshPorts> {
  const ports = {} as MeshPorts;
  for (const name of Object.keys(defaultPorts) as (keyof MeshPorts)[]) ports[name] = await freePort();
  return ports;
}
