export type { Pool, PoolClient, QueryResultRow } from 'pg';
export {
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  startEmbeddedPostgres,
} from './embedded-postgres.ts';
export {
  type ConnectionGuardOptions,
  DatabaseUnavailableError,
  guardConnections,
} from './guard-connections.ts';
export { type MigrateOptions, type Migration, migrate } from './migrate.ts';
export { type Database, type DatabaseOptions, openDatabase } from './open-database.ts';
export {
  QueryDeadlineError,
  type QueryWithDeadlineOptions,
  queryWithDeadline,
} from './query-with-deadline.ts';
export { withTransaction } from './with-transaction.ts';
