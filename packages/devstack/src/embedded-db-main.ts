// The embedded database process of `npm start`: one PGlite behind a socket server,
// shared by every service (each on its own schema), its data on disk when given a directory.
import { startEmbeddedPostgres } from '@toolmesh/db';
import { z } from 'zod';
import { lockDirectory } from './lock-directory.ts';

const env = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(0),
    // Empty: in memory.
    TOOLMESH_EMBEDDED_DB_DIR: z.string().default(''),
  })
  .parse(process.env);
const dataDir = env.TOOLMESH_EMBEDDED_DB_DIR || undefined;

let release = () => {};
let db: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
try {
  if (dataDir) release = lockDirectory(dataDir);
  db = await startEmbeddedPostgres({ port: env.PORT, dataDir });
} catch (error) {
  release();
  const msg = `embedded database failed to start: ${error instanceof Error ? error.message : String(error)}`;
  process.stderr.write(`${JSON.stringify({ level: 'fatal', service: 'embedded-db', msg })}\n`);
  process.exit(1);
}
process.stdout.write(
  `${JSON.stringify({ level: 'info', service: 'embedded-db', url: db.url, dataDir: dataDir ?? 'memory', msg: 'listening' })}\n`,
);

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  db.close()
    .finally(release)
    .finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
if (process.send) process.once('disconnect', stop);
