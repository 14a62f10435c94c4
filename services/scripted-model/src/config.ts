import { z } from 'zod';

// An empty variable counts as unset, so `PORT= node main.ts` keeps the default.
const unsetIfEmpty = (value: unknown) => (value === '' ? undefined : value);

const envSchema = z.object({
  PORT: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(0).max(65_535).default(50_070)),
  HOST: z.preprocess(unsetIfEmpty, z.string().default('127.0.0.1')),
  MODEL_LATENCY_MS: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(0).default(0)),
  LOG_LEVEL: z.preprocess(
    unsetIfEmpty,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
});

/** Settings of the scripted model process. */
export interface Config {
  port: number;
  host: string;
  /** Think time before each answer. */
  latencyMs: number;
  logLevel: string;
}

/** Parses the environment once; throws with every offending variable named. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid environment:\n${z.prettifyError(parsed.error)}`);
  const { PORT, HOST, MODEL_LATENCY_MS, LOG_LEVEL } = parsed.data;
  return { port: PORT, host: HOST, latencyMs: MODEL_LATENCY_MS, logLevel: LOG_LEVEL };
}
