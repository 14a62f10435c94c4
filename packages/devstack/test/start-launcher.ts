import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@toolmesh/testkit';
import { freePort } from '../src/free-port.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The port variables of `npm start`, by the name in TOOLMESH_<NAME>_PORT. */
export const launcherPortNames = [
  'GATEWAY',
  'ORCHESTRATOR',
  'ORDER',
  'INVENTORY',
  'DISPATCH',
  'TICKET',
  'MODEL',
  'EMBEDDED_DB',
] as const;

/** Options of {@link startLauncher}. */
export interface StartLauncherOptions {
  /** The embedded database's folder: always a temporary one in tests, never the repository's. */
  dataDir: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

/** `npm start` running as a child of the test. */
export interface Launcher {
  readonly child: ChildProcess;
  readonly ports: Record<(typeof launcherPortNames)[number], number>;
  output(): string;
  /** Waits until the launcher has printed `text`; fails if it exits first. */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** The pid of the launcher's child running `services/<name>/src/main.ts`. */
  servicePid(name: string): number | undefined;
  /** SIGTERM; resolves with its exit code. */
  stop(): Promise<number | null>;
}

/** Starts `node packages/devstack/src/main.ts` (what `npm start` runs) on free ports and waits until it is up. */
export async function startLauncher(options: StartLauncherOptions): Promise<Launcher> {
  const ports = Object.fromEntries(
    await Promise.all(launcherPortNames.map(async (n) => [n, await freePort()])),
  ) as Launcher['ports'];
  const env: NodeJS.ProcessEnv = { ...process.env, TOOLMESH_QUIET: '1', ...options.env };
  for (const n of ['DATABASE_URL', 'OPENAI_BASE_URL', 'OPENAI_API_KEY', 'TOOLMESH_MODEL', 'TOOLMESH_FRESH'])
    if (!options.env?.[n]) delete env[n];
  for (const n of launcherPortNames) env[`TOOLMESH_${n}_PORT`] = String(ports[n]);
  // Free /metrics ports too: the dev defaults (9400, …) may be taken by a running `npm start`.
  for (const n of launcherPortNames.slice(0, 6)) env[`TOOLMESH_${n}_METRICS_PORT`] = String(await freePort());
  env.TOOLMESH_DATA_DIR = options.dataDir;
  const child = spawn(process.execPath, ['packages/devstack/src/main.ts', ...(options.args ?? [])], {
    cwd: root,
    env,
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += String(d);
  });
  child.stderr?.on('data', (d) => {
    output += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitForOutput = async (text: string | RegExp, timeoutMs = 90_000) => {
    await waitFor(
      () => {
        if (typeof text === 'string' ? output.includes(text) : text.test(output)) return true;
        if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}):\n${output}`);
        return false;
      },
      { what: `npm start to print ${String(text)}`, timeoutMs, intervalMs: 100 },
    ).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${output}`);
    });
  };
  const launcher: Launcher = {
    child,
    ports,
    output: () => output,
    waitForOutput,
    servicePid(name) {
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
          if (ppid === child.pid && cmdline.includes(`services/${name}/src/main.ts`)) return Number(entry);
        } catch {
          // Gone meanwhile.
        }
      }
      return undefined;
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  try {
    await waitForOutput('toolmesh is up');
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return launcher;
}
