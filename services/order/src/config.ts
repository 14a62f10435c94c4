import { z } from 'zod';

/** Settings of the order service, parsed once from the environment. */
export interface OrderConfig {
  port: number;
  host: string;
  /** postgres:// URL; undefined runs on an embedded PGlite database. */
  databaseUrl: string | undefined;
  logLevel: string;
  /** Tasks of async tools (export_order_report) run at once by this replica. */
  taskConcurrency: number;
}

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(50_061),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TASK_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): OrderConfig {
  // An empty variable (PORT= in a compose file) means "use the default", not "0".
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
    throw new Error(`invalid order service configuration: ${problems.join('; ')}`);
  }
  const { PORT, HOST, DATABASE_URL, LOG_LEVEL, TASK_CONCURRENCY } = parsed.data;
  return {
    port: PORT,
    host: HOST,
    databaseUrl: DATABASE_URL,
    logLevel: LOG_LEVEL,
    taskConcurrency: TASK_CONCURRENCY,
  };
}
