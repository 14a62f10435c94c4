import { PGlite } from '@electric-sql/pglite';
import { startPGliteWireServer } from './pglite-wire-server.ts';

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Keep data in this directory; default in memory (gone when the process ends). */
  dataDir?: string;
  /** Concurrent client connections multiplexed onto the single PGlite session; default 100. */
  maxConnections?: number;
}

/** A running embedded Postgres reachable over the wire protocol. */
export interface EmbeddedPostgres {
  /** postgres:// URL for pg. */
  readonly url: string;
  /** Units of client work queued for the single PGlite session: how much is waiting behind the one running. */
  waitingUnits(): number;
  close(): Promise<void>;
}

/**
 * Starts PGlite (Postgres compiled to WASM) behind a wire-protocol server, so services
 * reach it with the plain `pg` driver: the same code path as a real Postgres.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const db = await PGlite.create(options.dataDir ? { dataDir: options.dataDir } : {});
  let server: Awaited<ReturnType<typeof startPGliteWireServer>>;
  try {
    server = await startPGliteWireServer({
      db,
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      maxConnections: options.maxConnections ?? 100,
    });
  } catch (error) {
    await db.close();
    throw error;
  }
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  let closed: Promise<void> | undefined;
  return {
    url: `postgres://postgres@${host}:${server.port}/postgres?sslmode=disable`,
    waitingUnits: () => server.waitingUnits(),
    close() {
      closed ??= server.close().then(() => db.close());
      return closed;
    },
  };
}
