import type { Logger } from '@toolmesh/telemetry';

/** Options of {@link handleShutdown}. */
export interface HandleShutdownOptions {
  logger: Logger;
  /** Drains and closes everything the process opened. */
  stop: () => Promise<void>;
  /** Hard exit if stopping takes longer; default 15 s. */
  forceAfterMs?: number;
}

/**
 * Stops the process cleanly on SIGTERM/SIGINT, and also when a launcher that
 * spawned it with an IPC channel goes away, so no service outlives `npm start`.
 */
export function handleShutdown(options: HandleShutdownOptions): void {
  const { logger } = options;
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown took too long, exiting');
      process.exit(1);
    }, options.forceAfterMs ?? 15_000).unref();
    options.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  if (process.send) process.once('disconnect', () => stop('launcher exited'));
}
