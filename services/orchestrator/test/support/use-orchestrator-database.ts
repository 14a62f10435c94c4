import { type Database, migrate, openDatabase, type Pool } from '@toolmesh/db';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import { migrations, schema } from '../../src/store/index.ts';

/** The test file's own orchestrator database: migrated on the real Postgres before its tests, dropped after. */
export interface OrchestratorTestDatabase {
  readonly pool: Pool;
  readonly url: string;
}

/** Registers the beforeAll/afterAll that make and drop the file's database. */
export function useOrchestratorDatabase(): OrchestratorTestDatabase {
  let testDb: TestDatabase | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase({ url: testDb.url });
    await migrate(db.pool, { schema, migrations });
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });
  const opened = () => {
    if (!db || !testDb) throw new Error('the database is made in beforeAll: use it inside a test');
    return { db, testDb };
  };
  return {
    get pool() {
      return opened().db.pool;
    },
    get url() {
      return opened().testDb.url;
    },
  };
}
