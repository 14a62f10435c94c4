import { createLogger } from '@toolmesh/telemetry';
import { loadConfig } from './config.ts';
import { createModelServer } from './create-model-server.ts';

const config = loadConfig();
const logger = createLogger({ service: 'scripted-model', level: config.logLevel });
const server = createModelServer({ logger, latencyMs: config.latencyMs });

let stopping = false;
async function stop(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ reason }, 'stopping');
  await server.close();
  process.exit(0);
}

process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
// A launcher that forked us over IPC (devstack, tests) may die without signalling: its
// channel closing is the one sign left, and no orphan must keep the port.
if (process.send) process.once('disconnect', () => void stop('parent disconnected'));

try {
  const port = await server.listen(config.port, config.host);
  logger.info({ port, host: config.host, latencyMs: config.latencyMs }, 'scripted model listening');
} catch (error) {
  logger.fatal({ err: error }, 'cannot listen');
  process.exit(1);
}
