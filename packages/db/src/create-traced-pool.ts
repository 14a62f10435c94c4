import {
  type Attributes,
  type Context,
  context,
  errorType,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  tracer,
} from '@toolmesh/telemetry';
import pg from 'pg';
import { nameStatement } from './name-statement.ts';

// The statement's operation and main table, for the span name: "SELECT orders.orders".
// Only the shape of our own SQL is read; the text itself and the values never go in a span.
const operationPattern = /^\s*([a-z]+)/i;
const tablePatterns = [
  /^\s*select\b[\s\S]*?\bfrom\s+([\w.]+)/i,
  /^\s*insert\s+into\s+([\w.]+)/i,
  /^\s*update\s+([\w.]+)/i,
  /^\s*delete\s+from\s+([\w.]+)/i,
];

// The statement after a WITH clause's common table expressions: "WITH a AS (…), b AS (…) INSERT …".
function mainStatement(text: string): string {
  if (!/^\s*with\b/i.test(text)) return text;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) {
      const rest = text.slice(i + 1);
      if (!/^\s*,/.test(rest)) return rest;
    }
  }
  return text;
}

function describe(sql: string): { operation: string; table: string | undefined } {
  const text = mainStatement(sql);
  const operation = (operationPattern.exec(text)?.[1] ?? 'QUERY').toUpperCase().slice(0, 16);
  for (const pattern of tablePatterns) {
    const table = pattern.exec(text)?.[1];
    if (table) return { operation, table: table.slice(0, 64) };
  }
  return { operation, table: undefined };
}

function startSpan(client: pg.Client, text: string, parent: Context): Span {
  const { operation, table } = describe(text);
  const attributes: Attributes = {
    'db.system.name': 'postgresql',
    'db.operation.name': operation,
    'db.namespace': client.database ?? '',
    'server.address': client.host,
    'server.port': client.port,
  };
  if (table) attributes['db.collection.name'] = table;
  return tracer.startSpan(
    table ? `${operation} ${table}` : operation,
    { kind: SpanKind.CLIENT, attributes },
    parent,
  );
}

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
const untracedQuery = pg.Client.prototype.query as unknown as QueryFn;

// A CLIENT span per statement, inside the caller's trace only: a poller's queries outside
// any request make no root spans. Callback (pg-pool) and promise forms are both covered;
// submittables (cursors) pass untraced. Parameterized statements are named (nameStatement).
function tracedQuery(this: pg.Client, ...args: unknown[]): unknown {
  const first = args[0] as { text?: unknown; submit?: unknown } | string | undefined;
  if (typeof first === 'object' && typeof first?.submit === 'function')
    return untracedQuery.apply(this, args);
  const text = typeof first === 'string' ? first : typeof first?.text === 'string' ? first.text : '';
  const onNamedError = this instanceof UnpreparedTracedClient ? undefined : nameStatement(this, args);
  const parent = context.active();
  const span = trace.getSpan(parent)?.isRecording() ? startSpan(this, text, parent) : undefined;
  if (!span && !onNamedError) return untracedQuery.apply(this, args);
  const end = (error?: unknown) => {
    if (error) onNamedError?.(error);
    if (!span) return;
    if (error) {
      // The SQLSTATE says what went wrong without repeating any data.
      const code = (error as { code?: unknown }).code;
      span.setAttribute('error.type', typeof code === 'string' ? code : errorType(error));
      if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  const last = args.length - 1;
  const callback = args[last];
  if (typeof callback === 'function') {
    args[last] = (error: unknown, result: unknown) => {
      end(error ?? undefined);
      callback(error, result);
    };
    return untracedQuery.apply(this, args);
  }
  const result = untracedQuery.apply(this, args) as Promise<unknown>;
  result.then(
    () => end(),
    (error: unknown) => end(error),
  );
  return result;
}

class TracedClient extends pg.Client {}
Object.defineProperty(TracedClient.prototype, 'query', {
  value: tracedQuery,
  writable: true,
  configurable: true,
});
// The same, its statements never named.
class UnpreparedTracedClient extends TracedClient {}

/** Options of {@link createTracedPool}. */
export interface TracedPoolOptions {
  /** Prepare each parameterized statement once per connection (nameStatement); default true. */
  preparedStatements?: boolean;
}

/**
 * A pg pool whose statements are spans of the active trace (db.system.name, operation,
 * table, database, server; never the statement's text or values). pg-pool hands a client
 * to a waiting `pool.query` from whichever call released it; binding the callback to the
 * caller's context keeps each statement in its own request's trace. Its parameterized
 * statements are prepared once per connection (see nameStatement) unless told otherwise.
 */
export function createTracedPool(config: pg.PoolConfig, options: TracedPoolOptions = {}): pg.Pool {
  const Client = options.preparedStatements === false ? UnpreparedTracedClient : TracedClient;
  const pool = new pg.Pool({ ...config, Client });
  const connect = pool.connect.bind(pool) as (callback?: (...args: unknown[]) => void) => unknown;
  Object.defineProperty(pool, 'connect', {
    value: (callback?: (...args: unknown[]) => void) =>
      callback ? connect(context.bind(context.active(), callback)) : connect(),
    writable: true,
    configurable: true,
  });
  return pool;
}
