import { readFile } from 'node:fs/promises';
import type { Clock } from '@toolmesh/clock';

/** Options of {@link createReloadingFile}. */
export interface ReloadingFileOptions<T> {
  path: string;
  /** Turns the file's text into a value; throws when the text is invalid. */
  parse: (text: string) => T;
  /** Decides when the next check is due. */
  clock: Clock;
  /** What was read at start (the configuration checked it), so the first call need not read. */
  initial: { text: string; value: T };
  /** Least time between two reads of the file; default 5 s. */
  checkEveryMs?: number;
  /** A read or parse failed: the last good value stays in use. */
  onError?: (error: unknown) => void;
  /** The file changed and its new value is in use. */
  onReload?: (value: T) => void;
}

/** A value kept in step with a small file (a mounted Secret or ConfigMap). */
export interface ReloadingFile<T> {
  /** The value of the file as of at most `checkEveryMs` ago. */
  current(): Promise<T>;
}

/**
 * Re-reads a file when a caller asks and the last read is older than `checkEveryMs`, so a
 * rotated Secret takes effect without a restart and an idle process reads nothing. The
 * content is compared, not the mtime: Kubernetes swaps a symlink and keeps old mtimes.
 * A file that turns unreadable or invalid keeps the last good value.
 */
export function createReloadingFile<T>(options: ReloadingFileOptions<T>): ReloadingFile<T> {
  const every = options.checkEveryMs ?? 5_000;
  let text = options.initial.text;
  let value = options.initial.value;
  let nextCheck = options.clock.now() + every;
  let reading: Promise<void> | undefined;
  const reload = async () => {
    try {
      const fresh = await readFile(options.path, 'utf8');
      if (fresh === text) return;
      const parsed = options.parse(fresh);
      text = fresh;
      value = parsed;
      options.onReload?.(parsed);
    } catch (error) {
      options.onError?.(error);
    }
  };
  return {
    async current() {
      if (!reading && options.clock.now() >= nextCheck) {
        nextCheck = options.clock.now() + every;
        reading = reload().finally(() => {
          reading = undefined;
        });
      }
      if (reading) await reading;
      return value;
    },
  };
}
