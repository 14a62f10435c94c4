import type { LoopOptions, LoopResult } from './run-closed-loop.ts';

/** What the load generator calls, described as data so it can cross the process boundary. */
export type Target =
  /** Pre-encoded bytes sent with a bare @grpc/grpc-js client to `path`. */
  | { kind: 'raw-unary'; address: string; path: string; payloadBase64: string }
  /** InvokeTool on a tool-sdk service through the client stack of @toolmesh/rpc. */
  | { kind: 'tool-client'; address: string; toolName: string; argumentsJson: string }
  /** The orchestrator's registry and executor calling a tool service (ledger stubbed). */
  | { kind: 'tool-executor'; address: string; toolName: string; argumentsJson: string }
  /** ChatService/Chat at the gateway; `expect` says what a correct answer looks like. */
  | {
      kind: 'gateway-chat';
      address: string;
      apiKey: string;
      message: string;
      expect: { toolCalls: number; modelCalls: number };
    }
  /** A Vercel AI SDK agent in the load generator's own process, against an OpenAI-compatible server. */
  | {
      kind: 'ai-sdk-agent';
      baseUrl: string;
      message: string;
      expect: { toolCalls: number; modelCalls: number };
    };

/** Closed-loop load on one target. */
export interface LoopJob {
  type: 'loop';
  target: Target;
  loop: LoopOptions;
}

/** One long conversation, turn after turn, through the gateway. */
export interface ConversationJob {
  type: 'conversation';
  address: string;
  apiKey: string;
  message: string;
  turns: number;
}

/** Opens ChatStreams and holds them until told to let go. */
export interface IdleStreamsJob {
  type: 'idle-streams';
  address: string;
  apiKey: string;
  message: string;
  streams: number;
  /** Streams per HTTP/2 connection: many clients, not one giant one. */
  perConnection: number;
  /** Pause after each batch of 200 streams (0: as fast as possible). */
  batchPauseMs: number;
}

/** Every job the load generator runs. */
export type LoadJob = LoopJob | ConversationJob | IdleStreamsJob;

/** A loop's result plus the target's own counters (e.g. cached tool calls). */
export interface LoopJobResult extends LoopResult {
  counters: Record<string, number>;
}

/** One turn of a {@link ConversationJob}. */
export interface TurnRecord {
  latencyMs: number;
  promptTokens: number;
  modelCalls: number;
  toolCalls: number;
}

/** Outcome of a {@link ConversationJob}. */
export interface ConversationJobResult {
  turns: TurnRecord[];
  errors: number;
  firstError?: string;
}

/** Outcome of an {@link IdleStreamsJob}: streams that ended before they were released failed. */
export interface IdleStreamsJobResult {
  opened: number;
  endedEarly: number;
  firstError?: string;
}

/** Messages from the load generator to its parent. */
export type WorkerMessage =
  | { type: 'result'; result: unknown }
  | { type: 'failed'; message: string }
  | { type: 'progress'; sent: number }
  /** The measured window of a loop begins (warm-up is over). */
  | { type: 'window' };

/** Messages from the parent to the load generator. */
export type ParentMessage = { type: 'job'; job: LoadJob } | { type: 'release' };
