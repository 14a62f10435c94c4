import type { Transport } from '@connectrpc/connect';

/** The process streams a command uses; tests and main pass the real ones. */
export interface CliStreams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Registers a Ctrl-C handler for the duration of a call; returns its removal. */
export type OnInterrupt = (handler: () => void) => () => void;

/** Everything a command needs, resolved from the global flags. */
export interface CliContext extends CliStreams {
  transport: Transport;
  /** Machine-readable output on stdout; questions and errors go to stderr. */
  json: boolean;
  /** Explicit deadline of every call, from --timeout. */
  timeoutMs?: number;
  onInterrupt: OnInterrupt;
  /** Prints a failed call's code, message and hint on stderr; answers the exit code. */
  reportError(error: unknown, rpc: string): number;
}

/** Exit codes: 0 done, 1 a call failed, 2 bad usage, 130 interrupted (Ctrl-C). */
export const exitCode = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;
