import pg from 'pg';

/** The machine's Postgres, as its superuser, on the maintenance database. */
export const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

/** What one database did so far (pg_stat_database). */
export interface SqlActivity {
  /** Committed and rolled-back transactions (each autocommit statement is one). */
  transactions: number;
  rowsWritten: number;
  rowsRead: number;
}

/**
 * Reads pg_stat_database for `database`. Statistics reach the
 * view with a delay of up to a second, so callers wait that long before reading.
 */
export async function readSqlActivity(adminUrl: string, database: string): Promise<SqlActivity> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const stats = await client.query<{ xacts: string; written: string; read: string }>(
      `SELECT xact_commit + xact_rollback AS xacts, tup_inserted + tup_updated + tup_deleted AS written,
              tup_returned AS read
         FROM pg_stat_database WHERE datname = $1`,
      [database],
    );
    const row = stats.rows[0];
    return {
      transactions: Number(row?.xacts ?? 0),
      rowsWritten: Number(row?.written ?? 0),
      rowsRead: Number(row?.read ?? 0),
    };
  } finally {
    await client.end();
  }
}

/** Runs one statement as the Postgres superuser (on the maintenance database). */
export async function runAdminStatement(sql: string, adminUrl = defaultAdminUrl): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
