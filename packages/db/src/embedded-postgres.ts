import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

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
  close(): Promise<void>;
}

/**
 * Starts PGlite (Postgres compiled to WASM) behind a socket server, so services
 * reach it with the plain `pg` driver: the same code path as a real Postgres.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const db = await PGlite.create(options.dataDir ? { dataDir: options.dataDir } : {});
  const host = options.host ?? '127.0.0.1';
  const server = new PGLiteSocketServer({
    db,
    host,
    port: options.port ?? 0,
    maxConnections: options.maxConnections ?? 100,
  });
  await server.start();
  // After start() the connection string holds the port actually bound.
  const address = server.getServerConn();
  return {
    url: `postgres://postgres@${address}/postgres?sslmode=disable`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
