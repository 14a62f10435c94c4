/** A meeting point for calls that must run side by side. */
export interface Barrier {
  /**
   * Resolves once `parties` callers have arrived. Rejects when they do not all
   * arrive within the barrier's timeout (the calls ran one after another), or
   * when `signal` aborts.
   */
  arrive(signal?: AbortSignal): Promise<void>;
  /** How many have arrived so far. */
  readonly arrived: number;
}

/** Options of {@link createBarrier}. */
export interface BarrierOptions {
  /** What meets here, for the failure message. */
  what: string;
  /** How long the first arrival waits for the others; default 20 s. */
  timeoutMs?: number;
}

/**
 * A barrier for in-test handlers: each waits until all `parties` have started, so
 * handlers that were run in series never finish and the test fails with a clear
 * message instead of measuring how long they took.
 */
export function createBarrier(parties: number, options: BarrierOptions): Barrier {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const waiting: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  let arrived = 0;
  let timer: NodeJS.Timeout | undefined;
  const open = () => {
    clearTimeout(timer);
    for (const w of waiting.splice(0)) w.resolve();
  };
  const fail = (error: unknown) => {
    clearTimeout(timer);
    for (const w of waiting.splice(0)) w.reject(error);
  };
  return {
    get arrived() {
      return arrived;
    },
    arrive(signal) {
      arrived++;
      const met = new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
      signal?.addEventListener('abort', () => fail(signal.reason), { once: true });
      if (arrived >= parties) open();
      else if (arrived === 1) {
        timer = setTimeout(
          () =>
            fail(
              new Error(
                `${options.what}: only ${arrived} of ${parties} arrived within ${timeoutMs} ms — not run side by side`,
              ),
            ),
          timeoutMs,
        );
      }
      return met;
    },
  };
}
