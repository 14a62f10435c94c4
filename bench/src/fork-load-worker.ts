import { fork } from 'node:child_process';
import type { LoadJob, ParentMessage, SlicePhase, WorkerMessage } from './load-job.ts';

/** A running load generator. */
export interface LoadWorker {
  readonly pid: number;
  /** Settles with the job's result; rejects on failure or when the time bound is hit. */
  readonly result: Promise<unknown>;
  send(message: ParentMessage): void;
}

/** What the parent hears while a job runs. */
export interface WorkerEvents {
  /** Streams sent so far (idle streams). */
  onProgress?: (sent: number) => void;
  /** The measured window begins (loops). */
  onWindow?: () => void;
  /** A recorded slice of an interleaved job starts or has ended (`announceSlices`). */
  onSlice?: (path: number, phase: SlicePhase) => void;
}

/**
 * Runs `job` in a load-generator child process, killed after `timeoutMs` whatever
 * it is doing: no load outlives its bound.
 */
export function forkLoadWorker(job: LoadJob, timeoutMs: number, events: WorkerEvents = {}): LoadWorker {
  const child = fork(new URL('./load-worker.ts', import.meta.url), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const result = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`load generator killed after ${timeoutMs} ms (${job.type})`));
    }, timeoutMs);
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') events.onProgress?.(message.sent);
      if (message.type === 'window') events.onWindow?.();
      if (message.type === 'slice') events.onSlice?.(message.path, message.phase);
      if (message.type === 'result') resolve(message.result);
      if (message.type === 'failed') reject(new Error(`load generator failed: ${message.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`load generator exited with code ${code}`));
    });
  });
  child.send({ type: 'job', job } satisfies ParentMessage);
  return {
    pid: child.pid ?? 0,
    result,
    send: (message) => child.send(message),
  };
}

/** Runs a job to its end in a load-generator process. */
export function runInLoadWorker<T>(job: LoadJob, timeoutMs: number): Promise<T> {
  return forkLoadWorker(job, timeoutMs).result as Promise<T>;
}
