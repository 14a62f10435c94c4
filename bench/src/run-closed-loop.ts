import { type LatencySummary, summarize } from './summarize.ts';

/** How hard and how long to drive a target. */
export interface LoopOptions {
  /** Callers, each sending its next request as soon as the previous one answered. */
  concurrency: number;
  /** Length of the measured window. */
  durationMs: number;
  /** Unrecorded load before the window: connections, JIT and caches settle first. */
  warmupMs: number;
}

/** What one measured window produced. */
export interface LoopResult {
  concurrency: number;
  /** Calls made during warm-up (answered or not). */
  warmupCalls: number;
  ok: number;
  errors: number;
  /** The first failure, so a broken target is not mistaken for a slow one. */
  firstError?: string;
  elapsedMs: number;
  /** Successful calls per second over the window. */
  perSecond: number;
  latency: LatencySummary;
}

/** What {@link runCallers} saw in its window. */
export interface CallersResult {
  /** Calls started (answered or not). */
  calls: number;
  /** Latency of each successful call, in ms; empty when not recorded. */
  latencies: number[];
  errors: number;
  firstError?: string;
  elapsedMs: number;
}

/**
 * `concurrency` callers, each sending its next call as soon as the previous one answered,
 * until `windowMs` has passed; the calls in flight then finish. Latencies only when `record`.
 */
export async function runCallers(
  call: () => Promise<void>,
  concurrency: number,
  windowMs: number,
  record: boolean,
): Promise<CallersResult> {
  const latencies: number[] = [];
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const end = started + windowMs;
  const caller = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      calls++;
      try {
        await call();
        if (record) latencies.push(performance.now() - t0);
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  return {
    calls,
    latencies,
    errors,
    ...(firstError ? { firstError } : {}),
    elapsedMs: performance.now() - started,
  };
}

/**
 * Closed-loop load: `concurrency` callers in a loop until the window ends. Only
 * successful calls count towards latency and throughput.
 */
export async function runClosedLoop(
  call: () => Promise<void>,
  options: LoopOptions,
  onWindowStart?: () => void,
): Promise<LoopResult> {
  const run = (windowMs: number, record: boolean) => runCallers(call, options.concurrency, windowMs, record);
  const warmup = options.warmupMs > 0 ? await run(options.warmupMs, false) : undefined;
  onWindowStart?.();
  const { latencies, errors, firstError, elapsedMs } = await run(options.durationMs, true);
  return {
    concurrency: options.concurrency,
    warmupCalls: warmup?.calls ?? 0,
    ok: latencies.length,
    errors,
    ...(firstError ? { firstError } : {}),
    elapsedMs,
    perSecond: (latencies.length * 1000) / elapsedMs,
    latency: summarize(latencies),
  };
}
