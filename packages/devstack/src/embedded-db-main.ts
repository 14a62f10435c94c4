// The embedded database process of `npm start`: one PGlite behind a socket server,
// shared by every service (each on its own schema).
import { startEmbeddedPostgres } from '@toolmesh/db';

const port = Number(process.env.PORT ?? 0);
const db = await startEmbeddedPostgres({ port, dataDir: process.env.TOOLMESH_EMBEDDED_DB_DIR || undefined });
process.stdout.write(
  `${JSON.stringify({ level: 'info', service: 'embedded-db', url: db.url, msg: 'listening' })}\n`,
);

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  db.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
if (process.send) process.once('disconnect', stop);
