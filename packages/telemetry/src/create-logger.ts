import { type DestinationStream, type Logger, pino } from 'pino';
import { maskSensitive } from './mask-sensitive.ts';

export type { Logger };

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Service name stamped on every line. */
  service: string;
  /** pino level; default "info". */
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
  /** Field names masked in every line, besides the always-sensitive ones. */
  sensitiveFields?: readonly string[];
}

/** Creates the structured JSON logger every process uses. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        // The same masking policy as the audit log and streamed events.
        log: (object) => maskSensitive(object, options.sensitiveFields) as Record<string, unknown>,
      },
    },
    options.destination,
  );
}
