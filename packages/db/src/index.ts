export { type EmbeddedPostgres, type EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded-postgres.ts';
export { type Migration, type MigrateOptions, migrate } from './migrate.ts';
export { type Database, type DatabaseOptions, openDatabase } from './open-database.ts';
export { withTransaction } from './with-transaction.ts';
export type { Pool, PoolClient, QueryResultRow } from 'pg';
