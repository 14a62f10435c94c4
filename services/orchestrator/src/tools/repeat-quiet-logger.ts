import type { Logger } from '@toolmesh/telemetry';

/**
 * A logger for work redone on every refresh (the registry's merge): a warning or error logged
 * by the previous round is not logged again while it persists, and is logged anew once it went
 * away and came back. Call `round()` before each round. Other levels pass through.
 */
export function createRepeatQuietLogger(logger: Logger): { logger: Logger; round(): void } {
  let previous = new Set<string>();
  let current = new Set<string>();
  const quiet = (level: 'warn' | 'error') => (fields: Record<string, unknown>, message: string) => {
    const key = `${level}\u0000${message}\u0000${String(fields.tool)}\u0000${String(fields.version)}\u0000${String(fields.address ?? fields.addresses)}`;
    current.add(key);
    if (!previous.has(key)) logger[level](fields, message);
  };
  const wrapped = Object.assign(Object.create(logger) as Logger, {
    warn: quiet('warn'),
    error: quiet('error'),
  });
  return {
    logger: wrapped,
    round() {
      previous = current;
      current = new Set();
    },
  };
}
