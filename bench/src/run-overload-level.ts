import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Code, ConnectError } from '@connectrpc/connect';
import { ChatService, StopReason } from '@toolmesh/proto';
import { createGrpcClient, readErrorInfo } from '@toolmesh/rpc';
import type { OverloadJob, OverloadLevel } from './overload-job.ts';
import { summarize } from './summarize.ts';

// How often the generator samples its own event loop, in ms.
const loopSamplingMs = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * Closed-loop Chat load beyond what the mesh admits. A refused caller waits its RetryInfo
 * delay with ±50 % jitter before its next request, as a well-behaved client does (one that
 * retried at once would measure how fast the gateway can say no, not the mesh under load).
 *
 * The callers run without a break from the warm-up through the window: only calls that start
 * in the window are recorded. Stopping them all after the warm-up and starting them again in
 * the same millisecond would measure a thundering herd at the window's start (every caller at
 * once, then every refused one asleep on a long hint) instead of the steady overload. They
 * also join over the warm-up's first second, as independent clients do, not in lockstep.
 */
export async function runOverloadLevel(
  job: OverloadJob,
  hooks: { onWindowOpen?: () => void } = {},
): Promise<OverloadLevel> {
  const clients = Array.from({ length: Math.ceil(job.concurrency / job.callersPerConnection) }, () =>
    createGrpcClient(ChatService, { address: job.address, defaultTimeoutMs: 60_000 }),
  );
  const headers = { authorization: `Bearer ${job.apiKey}` };
  const admitted: number[] = [];
  const rejected: number[] = [];
  const hints: number[] = [];
  const rejectedBy: Record<string, number> = {};
  let errors = 0;
  let firstError: string | undefined;
  const rampMs = Math.min(1_000, job.warmupMs);
  const windowStart = performance.now() + job.warmupMs;
  const end = windowStart + job.durationMs;

  // The generator's own load: a refusal it reads late is counted late, so a busy generator
  // would be taken for a slow server.
  const loopDelay = monitorEventLoopDelay({ resolution: loopSamplingMs });
  let cpuBefore = process.cpuUsage();
  const windowOpened = setTimeout(() => {
    loopDelay.enable();
    cpuBefore = process.cpuUsage();
    hooks.onWindowOpen?.();
  }, job.warmupMs);

  const caller = async (index: number) => {
    const client = clients[Math.floor(index / job.callersPerConnection)] ?? clients[0];
    if (!client) return;
    await sleep(Math.random() * rampMs);
    while (performance.now() < end) {
      const t0 = performance.now();
      const recorded = t0 >= windowStart;
      try {
        const res = await client.chat({ message: job.message }, { headers });
        const ok =
          res.stopReason === StopReason.COMPLETED &&
          res.toolExecutions.length === job.expect.toolCalls &&
          (res.usage?.modelCalls ?? 0) === job.expect.modelCalls &&
          res.toolExecutions.every((e) => e.success);
        if (!recorded) continue;
        if (ok) admitted.push(performance.now() - t0);
        else {
          errors++;
          firstError ??= `unexpected answer: stop ${res.stopReason}, ${res.toolExecutions.length} tool calls`;
        }
      } catch (error) {
        const latency = performance.now() - t0;
        const info = readErrorInfo(error);
        if (
          error instanceof ConnectError &&
          error.code === Code.ResourceExhausted &&
          info?.reason === 'OVERLOADED'
        ) {
          const hint = info.retryAfterMs ?? 1_000;
          if (recorded) {
            rejected.push(latency);
            const tier = info.metadata.service ?? '?';
            rejectedBy[tier] = (rejectedBy[tier] ?? 0) + 1;
            hints.push(hint);
          }
          // Past the window's end the caller is done: its sleep must not lengthen the level.
          if (!job.paceMs) await sleep(Math.min(hint * (0.5 + Math.random()), end - performance.now()));
        } else if (recorded) {
          errors++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
      if (job.paceMs) await sleep(Math.min(t0 + job.paceMs, end) - performance.now());
    }
  };

  await Promise.all(Array.from({ length: job.concurrency }, (_, i) => caller(i)));
  clearTimeout(windowOpened);
  loopDelay.disable();
  const cpu = process.cpuUsage(cpuBefore);
  // Calls that started in the window, over the window (the last ones end a little after it).
  const elapsedMs = Math.max(job.durationMs, performance.now() - windowStart);
  return {
    concurrency: job.concurrency,
    elapsedMs,
    admitted: admitted.length,
    admittedPerSecond: (admitted.length * 1000) / elapsedMs,
    admittedLatency: summarize(admitted),
    rejected: rejected.length,
    rejectedBy,
    rejectionLatency: summarize(rejected),
    retryHint: summarize(hints),
    errors,
    generatorCores: (cpu.user + cpu.system) / 1_000 / elapsedMs,
    // The histogram holds the time between two samples: the delay is that less the interval.
    generatorLoopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - loopSamplingMs),
    ...(firstError ? { firstError } : {}),
  };
}
