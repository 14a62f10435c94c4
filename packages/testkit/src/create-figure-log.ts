import { appendFileSync } from 'node:fs';

/** Records measured figures of a test run (for docs), one JSON line each. */
export type FigureLog = (name: string, value: number | string, unit?: string) => void;

/**
 * A figure log appending to `path`; without a path it does nothing, so tests
 * measure the same way whether or not anyone collects the numbers.
 */
export function createFigureLog(path: string | undefined): FigureLog {
  if (!path) return () => {};
  return (name, value, unit = '') => appendFileSync(path, `${JSON.stringify({ name, value, unit })}\n`);
}
