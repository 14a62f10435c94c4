import { z } from 'zod';

/** A TCP port with a default. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);

/** The interface to listen on; loopback unless told otherwise. */
export const host = z.string().min(1).default('127.0.0.1');

/** host:port of a peer. */
export const hostAddress = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}$/, 'expected host:port');

/** Comma-separated host:port list. */
export const addressList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
  )
  .pipe(z.array(hostAddress).min(1));

/** A postgres:// URL; absent means the embedded database. */
export const postgresUrl = z.url({ protocol: /^postgres(ql)?$/ }).optional();

/** pino levels. */
export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');

/**
 * Parses a service's environment once. An empty variable (`PORT=` in a compose
 * file) counts as unset; every invalid variable is named in the error.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv,
  service: string,
): z.output<S> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
    throw new Error(`invalid ${service} configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}
