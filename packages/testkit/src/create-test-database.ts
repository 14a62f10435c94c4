import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A database of its own for one test run, on the machine's real Postgres. */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** Drops the database (terminating what is still connected). */
  drop(): Promise<void>;
}

const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Creates `toolmesh_test_<random>` on the real Postgres. Fails loudly, saying how to
 * start Postgres, when it is not reachable: integration tests never skip silently.
 */
export async function createTestDatabase(adminUrl = defaultAdminUrl): Promise<TestDatabase> {
  const name = `toolmesh_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${adminUrl} (${String(error)}). Start it with: ` +
        'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    );
  }
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
