import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ProcessExit, SupervisedProcess } from './supervise-service.ts';

/** A child process of the mesh. */
export interface ServiceProcess extends SupervisedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  /** Aborted when the process exits. */
  readonly exited: AbortSignal;
  /** Settles when the process exits, with its code or signal. */
  readonly exit: Promise<ProcessExit>;
  /** The last lines it printed, for error reports. */
  tail(): string;
  /** SIGTERM, then SIGKILL after graceMs; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of {@link spawnService}. */
export interface SpawnServiceOptions {
  name: string;
  /** Entry file, run by the same Node binary as the launcher. */
  entry: string;
  /** Node's own options before the entry (e.g. V8 heap sizes); default none. */
  nodeArgs?: readonly string[];
  env: NodeJS.ProcessEnv;
  onLine?: (name: string, line: string) => void;
}

/**
 * Spawns one service with an IPC channel: if the launcher dies, the channel
 * closes and the service shuts itself down, so nothing is left orphaned.
 * It runs in a process group of its own, so a terminal's Ctrl-C reaches only the
 * launcher, which stops the services in order (the gateway first, the database last).
 */
export function spawnService(options: SpawnServiceOptions): ServiceProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.entry], {
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  const lines: string[] = [];
  const exitController = new AbortController();
  const { promise: exit, resolve: resolveExit } = Promise.withResolvers<ProcessExit>();
  // The exit promise settles before the signal aborts: whoever waits on both sees the exit first.
  child.once('exit', (code, signal) => {
    resolveExit({ code, signal });
    exitController.abort();
  });
  // A failed spawn emits 'error' and maybe no 'exit'.
  child.once('error', () => {
    resolveExit({ code: null, signal: null });
    exitController.abort();
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 40) lines.shift();
      options.onLine?.(options.name, line);
    });
  }
  return {
    name: options.name,
    child,
    pid: child.pid,
    exited: exitController.signal,
    exit,
    tail: () => lines.join('\n'),
    stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      });
    },
  };
}
