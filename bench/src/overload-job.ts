import type { LatencySummary } from './summarize.ts';

/** One overload level: Chat at the gateway from `concurrency` callers that honour retry hints. */
export interface OverloadJob {
  address: string;
  apiKey: string;
  message: string;
  expect: { toolCalls: number; modelCalls: number };
  concurrency: number;
  /** Unrecorded load first, so connections and caches settle. */
  warmupMs: number;
  durationMs: number;
  /** Callers per HTTP/2 connection: the gateway's public port takes 100 streams per connection. */
  callersPerConnection: number;
  /**
   * A probe instead of load: each caller starts a call every `paceMs` and ignores retry hints,
   * so an idle process times a steady sample of answers while the load runs elsewhere.
   */
  paceMs?: number;
}

/** What one overload level measured, from the callers' side. */
export interface OverloadLevel {
  concurrency: number;
  elapsedMs: number;
  /** Correct answers in the window, their rate and latency. */
  admitted: number;
  admittedPerSecond: number;
  admittedLatency: LatencySummary;
  /** RESOURCE_EXHAUSTED (reason OVERLOADED) answers, by the tier that refused, and their latency. */
  rejected: number;
  rejectedBy: Record<string, number>;
  rejectionLatency: LatencySummary;
  /** The RetryInfo delays received. */
  retryHint: LatencySummary;
  /** Anything else (wrong answers, other statuses). */
  errors: number;
  /** CPU the load generator used over the window, in cores. */
  generatorCores: number;
  /** The load generator's event-loop delay p99 over the window, ms: how late it may have read an answer. */
  generatorLoopDelayP99Ms: number;
  firstError?: string;
}

/** Messages between the parent and the overload load generator. */
export type OverloadMessage =
  | { type: 'job'; job: OverloadJob }
  | { type: 'result'; result: OverloadLevel }
  /** The recorded window opened (the warm-up is over): the parent starts its own reads of the gateway. */
  | { type: 'window' }
  | { type: 'failed'; message: string };
