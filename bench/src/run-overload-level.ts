import { Code, ConnectError } from '@connectrpc/connect';
import { ChatService, StopReason } from '@toolmesh/proto';
import { createGrpcClient, readErrorInfo } from '@toolmesh/rpc';
import type { OverloadJob, OverloadLevel } from './overload-job.ts';
import { summarize } from './summarize.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Closed-loop Chat load beyond what the mesh admits. A refused caller waits its RetryInfo
 * delay with ±50 % jitter before its next request, as a well-behaved client does (one that
 * retried at once would measure how fast the gateway can say no, not the mesh under load).
 */
export async function runOverloadLevel(job: OverloadJob): Promise<OverloadLevel> {
  const clients = Array.from({ length: Math.ceil(job.concurrency / job.callersPerConnection) }, () =>
    createGrpcClient(ChatService, { address: job.address, defaultTimeoutMs: 60_000 }),
  );
  const headers = { authorization: `Bearer ${job.apiKey}` };

  const run = async (windowMs: number) => {
    const admitted: number[] = [];
    const rejected: number[] = [];
    const hints: number[] = [];
    const rejectedBy: Record<string, number> = {};
    let errors = 0;
    let firstError: string | undefined;
    const started = performance.now();
    const end = started + windowMs;
    const caller = async (index: number) => {
      const client = clients[Math.floor(index / job.callersPerConnection)] ?? clients[0];
      if (!client) return;
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const res = await client.chat({ message: job.message }, { headers });
          const ok =
            res.stopReason === StopReason.COMPLETED &&
            res.toolExecutions.length === job.expect.toolCalls &&
            (res.usage?.modelCalls ?? 0) === job.expect.modelCalls &&
            res.toolExecutions.every((e) => e.success);
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
            rejected.push(latency);
            const tier = info.metadata.service ?? '?';
            rejectedBy[tier] = (rejectedBy[tier] ?? 0) + 1;
            const hint = info.retryAfterMs ?? 1_000;
            hints.push(hint);
            await sleep(hint * (0.5 + Math.random()));
          } else {
            errors++;
            firstError ??= error instanceof Error ? error.message : String(error);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: job.concurrency }, (_, i) => caller(i)));
    return {
      admitted,
      rejected,
      hints,
      rejectedBy,
      errors,
      firstError,
      elapsedMs: performance.now() - started,
    };
  };

  if (job.warmupMs > 0) await run(job.warmupMs);
  const w = await run(job.durationMs);
  return {
    concurrency: job.concurrency,
    elapsedMs: w.elapsedMs,
    admitted: w.admitted.length,
    admittedPerSecond: (w.admitted.length * 1000) / w.elapsedMs,
    admittedLatency: summarize(w.admitted),
    rejected: w.rejected.length,
    rejectedBy: w.rejectedBy,
    rejectionLatency: summarize(w.rejected),
    retryHint: summarize(w.hints),
    errors: w.errors,
    ...(w.firstError ? { firstError: w.firstError } : {}),
  };
}
