import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

/** A throwaway etcd member on loopback. */
export interface TestEtcd {
  /** Client URL, e.g. http://127.0.0.1:23790. */
  readonly endpoint: string;
  /** SIGKILLs the member (an outage); its data stays for {@link TestEtcd.start}. */
  kill(): Promise<void>;
  /** Starts the member again on the same ports and data. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  stop(): Promise<void>;
}

const etcdBinary = '/usr/bin/etcd';

/**
 * Starts a real single-member etcd (Debian's etcd-server) on free loopback ports
 * with its data in a temporary folder. Fails loudly when etcd is not installed.
 */
export async function startEtcd(): Promise<TestEtcd> {
  if (!existsSync(etcdBinary)) {
    throw new Error('etcd is not installed: run `apt-get install -y etcd-server` (CI installs it)');
  }
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'toolmesh-etcd-'));
  let child: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    output = '';
    const proc = spawn(
      etcdBinary,
      [
        '--name=test',
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${endpoint}`,
        `--advertise-client-urls=${endpoint}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
        '--log-level=error',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`etcd exited: ${output.slice(-2000)}`);
      const healthy = await fetch(`${endpoint}/health`)
        .then(async (r) => r.ok && ((await r.json()) as { health?: string }).health === 'true')
        .catch(() => false);
      if (healthy) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    proc.kill('SIGKILL');
    throw new Error(`etcd did not become healthy in 15 s: ${output.slice(-2000)}`);
  };

  const kill = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    endpoint,
    kill,
    start,
    async stop() {
      await kill();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
