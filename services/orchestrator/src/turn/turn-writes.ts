/**
 * A turn's writes held back until the turn needs them durable: at the end of a
 * round, before a write tool's approval is stored, and before the answer. Queued
 * writes start together when flushed, so they land in one group-commit flush (see
 * WriteBatcher) — one transaction for the conversation, its messages, the reads'
 * ledger and audit rows, the usage row and the lease's release.
 */
export interface TurnWrites {
  /** Queues `write`; it starts at the next {@link flush}. */
  later(write: () => Promise<unknown>): void;
  /** Starts every queued write now and waits for all; throws the first failure. */
  flush(): Promise<void>;
}

/** Creates an empty {@link TurnWrites}. */
export function createTurnWrites(): TurnWrites {
  let queued: (() => Promise<unknown>)[] = [];
  const inFlight = new Set<Promise<unknown>>();
  // A failed write fails every later flush too: what the turn answers must all be durable,
  // whoever flushed it (the turn itself, or the lease renewal).
  let failure: { reason: unknown } | undefined;
  const start = (write: () => Promise<unknown>) => {
    const running = Promise.resolve()
      .then(write)
      .catch((reason: unknown) => {
        failure ??= { reason };
      })
      .finally(() => inFlight.delete(running));
    inFlight.add(running);
  };
  return {
    later(write) {
      queued.push(write);
    },
    async flush() {
      while (queued.length || inFlight.size) {
        const writes = queued;
        queued = [];
        for (const w of writes) start(w);
        await Promise.all(inFlight);
      }
      if (failure) throw failure.reason;
    },
  };
}
