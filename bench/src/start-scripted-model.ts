import { fileURLToPath } from 'node:url';
import { type ServiceProcess, spawnService, waitForPort } from '@toolmesh/devstack';
import { freePort } from '@toolmesh/testkit';

/** The scripted model running as its own process, as `npm start` runs it. */
export interface ScriptedModel {
  readonly baseUrl: string;
  readonly process: ServiceProcess;
  stop(): Promise<void>;
}

// The service's entry file, run as a process (a path, not an import of its sources).
const entry = fileURLToPath(new URL('../../services/scripted-model/src/main.ts', import.meta.url));

/** Starts services/scripted-model on a free port (no think time) and waits until it accepts connections. */
export async function startScriptedModel(): Promise<ScriptedModel> {
  const port = await freePort();
  const proc = spawnService({
    name: 'scripted-model',
    entry,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', MODEL_LATENCY_MS: '0' },
  });
  try {
    await waitForPort('127.0.0.1', port, 30_000, proc.exited);
  } catch (error) {
    await proc.stop();
    throw new Error(`the scripted model did not start: ${String(error)}\n${proc.tail()}`);
  }
  return { baseUrl: `http://127.0.0.1:${port}/v1`, process: proc, stop: () => proc.stop() };
}
