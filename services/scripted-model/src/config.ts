import { host, logLevel, parseEnv, port } from '@toolmesh/config';
import { z } from 'zod';

const envSchema = z.object({
  PORT: port(50_070),
  HOST: host,
  MODEL_LATENCY_MS: z.coerce.number().int().min(0).default(0),
  LOG_LEVEL: logLevel,
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
  const { PORT, HOST, MODEL_LATENCY_MS, LOG_LEVEL } = parseEnv(envSchema, env, 'scripted model');
  return { port: PORT, host: HOST, latencyMs: MODEL_LATENCY_MS, logLevel: LOG_LEVEL };
}
