import { fork } from 'node:child_process';

/** A server the bench runs in a child process of its own. */
export interface ChildServer {
  readonly port: number;
  readonly pid: number;
  readonly address: string;
  /** SIGTERM; resolves when it is gone (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/**
 * Forks `entry` (a file of this folder) with `args` and waits until it reports
 * the port it listens on. Its stdout is dropped; stderr shows problems.
 */
export function startChild(entry: string, args: string[] = [], timeoutMs = 30_000): Promise<ChildServer> {
  const child = fork(new URL(entry, import.meta.url), args, {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${entry} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with code ${code} before it was ready`));
    });
    child.on('message', (message: { type?: string; port?: number }) => {
      if (message.type !== 'ready' || !message.port) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const port = message.port;
      resolve({ port, pid: child.pid ?? 0, address: `127.0.0.1:${port}`, stop });
    });
  });
}
