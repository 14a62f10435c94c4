import { readFile } from 'node:fs/promises';
import type { Clock } from '@toolmesh/clock';

/** Options of {@link createWatchedFile}. */
export interface WatchedFileOptions<T> {
  path: string;
  /** Turns the file's text into what callers use; throws on bad content. */
  parse: (text: string) => T | Promise<T>;
  clock: Clock;
  /** How often, at most, the file is read again; default 5 s. */
  checkEveryMs?: number;
}

/** A file read once and again whenever it changes on disk. */
export interface WatchedFile<T> {
  /** The parsed content; re-read when the file changed since the last check. */
  current(): Promise<T>;
  /** Reads the file again now, however recently it was checked (e.g. a key id nobody knows yet). */
  reload(): Promise<T>;
}

/**
 * A file that can change while the process runs: a mounted Secret or ConfigMap (Kubernetes
 * swaps it atomically), a rotated key. The check is a read at most every `checkEveryMs` on the
 * injected clock, done lazily when the content is asked for, so nothing polls an idle service.
 * A file that changed into something unparsable keeps the last good content.
 */
export function createWatchedFile<T>(options: WatchedFileOptions<T>): WatchedFile<T> {
  const checkEveryMs = options.checkEveryMs ?? 5_000;
  // Compared by text, not mtime: file systems with coarse timestamps hide quick rewrites.
  let value: { content: T; text: string; checkedAt: number } | undefined;
  let loading: Promise<T> | undefined;

  const load = async (): Promise<T> => {
    const text = await readFile(options.path, 'utf8');
    if (value && value.text === text) {
      value.checkedAt = options.clock.now();
      return value.content;
    }
    try {
      const content = await options.parse(text);
      value = { content, text, checkedAt: options.clock.now() };
      return content;
    } catch (error) {
      if (!value) throw error;
      value.checkedAt = options.clock.now();
      return value.content;
    }
  };
  const once = () => {
    loading ??= load().finally(() => {
      loading = undefined;
    });
    return loading;
  };
  return {
    current() {
      if (value && options.clock.now() - value.checkedAt < checkEveryMs)
        return Promise.resolve(value.content);
      return once();
    },
    reload() {
      if (value) value.checkedAt = Number.NEGATIVE_INFINITY;
      return once();
    },
  };
}
