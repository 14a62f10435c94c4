import { type Mesh, type MeshOptions, type MeshPorts, startMesh } from '@toolmesh/devstack';
import { createTestDatabase, freePort, type TestDatabase } from '@toolmesh/testkit';
import { findProcesses } from './process-stats.ts';
import {
  defaultAdminUrl,
  readSqlActivity,
  runAdminStatement,
  type SqlActivity,
} from './read-sql-activity.ts';

/** Which SQL the mesh runs on. */
export type BenchDatabase = 'postgres' | 'pglite';

/** Options of {@link startBenchMesh}. */
export interface BenchMeshOptions {
  /** postgres: a throwaway database on 127.0.0.1:5432, dropped on stop; pglite: the embedded default. */
  database: BenchDatabase;
  extraToolServices?: string[];
  /** Another model than the scripted one. */
  model?: MeshOptions['model'];
  /** Extra environment for every service. */
  env?: NodeJS.ProcessEnv;
  /** Extra environment per service name, e.g. NODE_OPTIONS for a profile. */
  serviceEnv?: Record<string, NodeJS.ProcessEnv>;
  /** The mesh's key files (e.g. shared with an extra tool service); absent: new ones for this start. */
  meshKeys?: MeshOptions['meshKeys'];
  /** Orchestrator processes behind the gateway (it balances over all); default 1. */
  orchestrators?: number;
  /** Print the services' lines (for debugging a benchmark). */
  verbose?: boolean;
  /**
   * postgres only: false sets synchronous_commit=off on the throwaway database, a
   * diagnostic that shows how much of a chat is waiting for WAL flushes.
   */
  synchronousCommit?: boolean;
}

/** SQL work of the mesh's whole life (postgres only). */
export interface SqlTotals {
  transactions: number;
  rowsWritten: number;
}

/** A mesh started for a benchmark. */
export interface BenchMesh {
  readonly mesh: Mesh;
  /** host:port of the gateway. */
  readonly gateway: string;
  readonly database: BenchDatabase;
  /** Pid of every service process, by name. */
  pids(): Record<string, number>;
  /** The throwaway Postgres database the mesh runs on (none on PGlite). */
  readonly sqlDatabase: string | undefined;
  /**
   * Pids of the Postgres backends serving the mesh now (none on PGlite, which is a mesh process),
   * from the process table without a connection of its own: cheap enough to follow the backends
   * through a window while the pools open and close connections.
   */
  sqlBackends(): number[];
  /** Stops every process, then reports the SQL work done (every backend has flushed its statistics by then). */
  stop(): Promise<SqlTotals | undefined>;
}

/** The dev key of user u_1001, who owns order 202604100018. */
export const benchApiKey = 'dev-key-u1001';

const adminUrl = defaultAdminUrl;

// Every benchmark chat is the same user: the per-user limits (5 chats/s, 10 tool
// calls/s by default) would measure the limiter's refusals, not the mesh. The
// limiters still run on every call; only their budget is raised.
const unthrottled: NodeJS.ProcessEnv = {
  CHAT_RATE_PER_SEC: '1000000',
  CHAT_RATE_BURST: '1000000',
  TOOL_RATE_PER_SEC: '1000000',
  TOOL_RATE_BURST: '1000000',
};

/** Starts the mesh as `npm start` does, on free ports, with per-user limits raised. */
export async function startBenchMesh(options: BenchMeshOptions): Promise<BenchMesh> {
  const names = ['gateway', 'orchestrator', 'order', 'inventory', 'dispatch', 'ticket', 'model', 'database'];
  const ports = Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, await freePort()] as const)),
  ) as unknown as MeshPorts;
  let database: TestDatabase | undefined;
  if (options.database === 'postgres') database = await createTestDatabase(adminUrl);
  if (database && options.synchronousCommit === false) {
    await runAdminStatement(`ALTER DATABASE ${database.name} SET synchronous_commit = off`);
  }
  const activity = async (): Promise<SqlActivity | undefined> =>
    database ? readSqlActivity(adminUrl, database.name) : undefined;
  try {
    const mesh = await startMesh({
      ports,
      databaseUrl: database?.url,
      model: options.model,
      env: { ...unthrottled, ...options.env },
      serviceEnv: options.serviceEnv,
      extraToolServices: options.extraToolServices,
      meshKeys: options.meshKeys,
      orchestrators: options.orchestrators,
      onLine: options.verbose
        ? (service, line) => console.error(`${service.padEnd(14)}| ${line}`)
        : undefined,
      startTimeoutMs: 90_000,
    });
    const before = await activity();
    return {
      mesh,
      gateway: mesh.grpcAddresses.gateway,
      database: options.database,
      pids: () => Object.fromEntries([...mesh.processes].map(([name, proc]) => [name, proc.child.pid ?? 0])),
      sqlDatabase: database?.name,
      // A backend's title: "postgres: <cluster>: <user> <database> <host>(<port>) <state>".
      sqlBackends: () =>
        database
          ? findProcesses((line) => line.startsWith('postgres: ') && line.includes(` ${database.name} `))
          : [],
      async stop() {
        await mesh.stop();
        const after = await activity();
        await database?.drop();
        if (!before || !after) return undefined;
        return {
          transactions: after.transactions - before.transactions,
          rowsWritten: after.rowsWritten - before.rowsWritten,
        };
      },
    };
  } catch (error) {
    await database?.drop();
    throw error;
  }
}
