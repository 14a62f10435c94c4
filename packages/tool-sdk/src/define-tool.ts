import type { Principal } from '@toolmesh/proto';
import type { Logger } from '@toolmesh/telemetry';
import { z } from 'zod';

/** Tool metadata as a tool team writes it; defaults suit a cheap read. */
export interface ToolMetadataInput {
  /** "read" tools run when the model asks; "write" tools only after the user confirms. */
  sideEffect: 'read' | 'write';
  /** Permission the principal needs, e.g. "order:read". */
  permission: string;
  /** Upper bound of one execution; default 5 s. */
  timeoutMs?: number;
  /** Concurrent executions per replica; default 0 = unlimited. */
  maxConcurrency?: number;
  /** Safe to retry with the same arguments; default true for reads, false for writes. */
  idempotent?: boolean;
  /** Results may be cached this long; default 0 (no caching). */
  cacheTtlMs?: number;
  /** May run alongside other calls of the same round; default true for reads, false for writes. */
  allowParallel?: boolean;
  /** Answers at once with a task_id; default false. */
  async?: boolean;
  /** Argument/result fields with sensitive data (phone, address, tokens …). */
  sensitiveFields?: string[];
  /** Top-level result fields the model gets when a result exceeds its output budget. */
  summaryFields?: string[];
  /** Output budget of one result in characters; default 0 = the orchestrator's default. */
  maxOutputChars?: number;
  /**
   * Read tools this tool calls as the same end user (e.g. create_ticket reads the order with
   * get_order_detail); each call then brings a credential for each, see `ToolContext.credentialFor`.
   */
  delegatedTools?: string[];
}

/** What a handler knows about the call it serves. */
export interface ToolContext {
  /** The end user the tool runs as, from the call's verified mesh credential. */
  principal: Principal;
  toolCallId: string;
  /** Correlates this call with the turn that made it, in logs and audit. */
  requestId: string;
  /** Same key and arguments must yield the stored result instead of a second effect. */
  idempotencyKey: string;
  /** Aborted on timeout or when the caller cancels; pass it to I/O. */
  signal: AbortSignal;
  /** Milliseconds left before the tool's timeout: the deadline to give SQL and downstream calls. */
  remainingMs: () => number;
  logger: Logger;
  /**
   * The credential to call `toolName` (one of the tool's `delegatedTools`) as the same user,
   * for `credentialHeaders` of @toolmesh/rpc; undefined when the orchestrator issued none.
   */
  credentialFor: (toolName: string) => string | undefined;
}

/** A tool as a team defines it. */
export interface ToolSpec<S extends z.ZodType> {
  name: string;
  /**
   * Version of the tool's contract, e.g. "2"; default "" (unversioned). Another service may
   * serve another version of the same name; the orchestrator's publishing policy decides
   * which conversations get which, and refuses a version whose schema breaks the previous
   * one (a removed or newly required field) unless the policy forces it.
   */
  version?: string;
  /** Written for the model: what the tool does and when to use it. */
  description: string;
  input: S;
  metadata: ToolMetadataInput;
  handler: (args: z.output<S>, ctx: ToolContext) => Promise<unknown>;
}

/** A defined tool, with its metadata resolved and its JSON Schema derived. */
export interface Tool {
  readonly name: string;
  /** "" when unversioned. */
  readonly version: string;
  readonly description: string;
  readonly input: z.ZodType;
  readonly inputJsonSchema: string;
  readonly metadata: Required<ToolMetadataInput>;
  readonly handler: (args: unknown, ctx: ToolContext) => Promise<unknown>;
}

const toolName = /^[a-zA-Z0-9_-]{1,64}$/;
const toolVersion = /^[a-zA-Z0-9_.-]{0,32}$/;

/** Defines a tool: zod validates its input, and the JSON Schema published by ListTools is derived from it. */
export function defineTool<S extends z.ZodType>(spec: ToolSpec<S>): Tool {
  if (!toolName.test(spec.name)) throw new Error(`invalid tool name "${spec.name}"`);
  const version = spec.version ?? '';
  if (!toolVersion.test(version)) throw new Error(`invalid version "${version}" of tool "${spec.name}"`);
  const read = spec.metadata.sideEffect === 'read';
  return {
    name: spec.name,
    version,
    description: spec.description,
    input: spec.input,
    inputJsonSchema: JSON.stringify(z.toJSONSchema(spec.input, { target: 'draft-2020-12', io: 'input' })),
    metadata: {
      timeoutMs: 5_000,
      maxConcurrency: 0,
      idempotent: read,
      cacheTtlMs: 0,
      allowParallel: read,
      async: false,
      sensitiveFields: [],
      summaryFields: [],
      maxOutputChars: 0,
      delegatedTools: [],
      ...spec.metadata,
    },
    handler: spec.handler as Tool['handler'],
  };
}
