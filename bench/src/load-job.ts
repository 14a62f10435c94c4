import type { LoopOptions, LoopResult } from './run-closed-loop.ts';

/**
 * The credential of a pre-encoded InvokeTool: bound to the call in the bytes, signed once by
 * the orchestrator's key and re-signed well before it expires, so only the server's side of
 * the credential (verification) is in the measurement.
 */
export interface RawCallCredential {
  signingKeyFile: string;
  toolName: string;
  toolCallId: string;
  idempotencyKey: string;
}

/** What the load generator calls, described as data so it can cross the process boundary. */
export type Target =
  /** Pre-encoded bytes sent with a bare @grpc/grpc-js client to `path`, with a mesh credential when given. */
  | {
      kind: 'raw-unary';
      address: string;
      path: string;
      payloadBase64: string;
      credential?: RawCallCredential;
    }
  /** InvokeTool on a tool-sdk service through the client stack of @toolmesh/rpc, signed per call. */
  | {
      kind: 'tool-client';
      address: string;
      toolName: string;
      argumentsJson: string;
      /** The orchestrator's private key file: the target signs as the orchestrator does. */
      signingKeyFile: string;
    }
  /** The orchestrator's registry and executor calling a tool service (ledger stubbed). */
  | {
      kind: 'tool-executor';
      address: string;
      toolName: string;
      argumentsJson: string;
      signingKeyFile: string;
    }
  /** Signing (as the orchestrator) or verifying (as a tool service) one tool call's mesh credential, in process. */
  | { kind: 'mesh-credential'; op: 'sign' | 'verify'; signingKeyFile: string; jwksFile: string }
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

/** One path of an {@link InterleavedJob}: what to call, and the process that answers it. */
export interface InterleavedPath {
  name: string;
  target: Target;
  /**
   * The server's pid: its CPU is read before and after each of the path's slices. Absent when the
   * parent reads the CPU of the path's processes itself (`announceSlices`).
   */
  serverPid?: number;
}

/**
 * Closed-loop load on several targets in turn, in short slices (round after round, each round
 * starting one path further on), so every path samples the machine's speed over the same minutes.
 */
export interface InterleavedJob {
  type: 'interleaved';
  paths: InterleavedPath[];
  concurrency: number;
  /** Unrecorded load on each path before the first round. */
  warmupMs: number;
  sliceMs: number;
  rounds: number;
  /**
   * Tell the parent when each recorded slice starts and ends (`slice` messages, each sent before
   * the next step), so it can read the CPU of processes only it knows around every slice.
   */
  announceSlices?: boolean;
}

/** One path's share of an {@link InterleavedJob}: its slices together, and its server's CPU over them. */
export interface InterleavedPathResult {
  name: string;
  result: LoopJobResult;
  /** Its server's CPU over its slices, in ms (0 without a `serverPid`). */
  serverCpuMs: number;
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
export type LoadJob = LoopJob | InterleavedJob | ConversationJob | IdleStreamsJob;

/** A loop's result plus the target's own counters (e.g. cached tool calls). */
export interface LoopJobResult extends LoopResult {
  counters: Record<string, number>;
  /** The load generator's own CPU (user + system) over the measured window, in ms. */
  cpuMs: number;
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
  | { type: 'window' }
  /** A recorded slice of an interleaved job's path (its index) starts or has ended. */
  | { type: 'slice'; path: number; phase: SlicePhase };

/** A slice's start, or its end once its last call answered. */
export type SlicePhase = 'start' | 'end';

/** Messages from the parent to the load generator. */
export type ParentMessage = { type: 'job'; job: LoadJob } | { type: 'release' };
