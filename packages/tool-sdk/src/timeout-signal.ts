import type { Clock } from '@toolmesh/clock';

/** A signal that aborts after a while, and the means to stop its timer early. */
export interface TimeoutSignal {
  signal: AbortSignal;
  cancel(): void;
}

/**
 * `AbortSignal.timeout` on a {@link Clock}: aborts with a TimeoutError DOMException
 * (as the built-in does, so classifyError reads it the same) once `ms` passed on it,
 * and with `parent`'s reason as soon as `parent` aborts, as `AbortSignal.any` would.
 *
 * The link is one listener on `parent` rather than `AbortSignal.any`: a composite signal
 * is tracked through weak references and a finalization registry, about 11 µs of CPU per
 * tool call against 1 µs for a listener (measured on Node 24).
 */
export function timeoutSignal(clock: Clock, ms: number, parent?: AbortSignal): TimeoutSignal {
  const controller = new AbortController();
  const timer = clock
    .setTimeout(
      () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      ms,
    )
    .unref();
  if (parent?.aborted) {
    timer.cancel();
    controller.abort(parent.reason);
  } else if (parent) {
    // Stays until `parent` aborts, as the composite signal did: a handler's work that outlives
    // its call still hears that the call ended.
    parent.addEventListener('abort', () => controller.abort(parent.reason), { once: true });
  }
  return { signal: controller.signal, cancel: () => timer.cancel() };
}
