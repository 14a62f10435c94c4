import { z } from 'zod';

/** Settings of the ticket service, parsed once from the environment. */
export interface TicketConfig {
  port: number;
  host: string;
  /** postgres:// URL; undefined runs on an embedded PGlite database. */
  databaseUrl: string | undefined;
  logLevel: string;
  /** host:port of the order service, asked whether an order allows a ticket. */
  orderServiceAddr: string;
}

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(50_064),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ORDER_SERVICE_ADDR: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):[0-9]{1,5}$/, 'must be host:port')
    .default('127.0.0.1:50061'),
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): TicketConfig {
  // An empty variable (PORT= in a compose file) means "use the default", not "0".
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
    throw new Error(`invalid ticket service configuration: ${problems.join('; ')}`);
  }
  const { PORT, HOST, DATABASE_URL, LOG_LEVEL, ORDER_SERVICE_ADDR } = parsed.data;
  return {
    port: PORT,
    host: HOST,
    databaseUrl: DATABASE_URL,
    logLevel: LOG_LEVEL,
    orderServiceAddr: ORDER_SERVICE_ADDR,
  };
}
