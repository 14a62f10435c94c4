import type { Clock } from '@toolmesh/clock';

/** A signal that aborts after a while, and the means to stop its timer early. */
export interface TimeoutSignal {
  signal: AbortSignal;
  cancel(): void;
}

/**
 * `AbortSignal.timeout` on a {@link Clock}: aborts with a TimeoutError DOMException
 * (as the built-in does, so classifyError reads it the same) once `ms` passed on it.
 */
export function timeoutSignal(clock: Clock, ms: number): TimeoutSignal {
  const controller = new AbortController();
  const timer = clock
    .setTimeout(
      () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      ms,
    )
    .unref();
  return { signal: controller.signal, cancel: () => timer.cancel() };
}
