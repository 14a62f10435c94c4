import type pg from 'pg';

/** Distinct statement texts a process names at most; any further one runs unnamed. */
const maxNamedStatements = 500;

// One name per statement text, the same on every connection of the process.
const names = new Map<string, string>();

// Per connection, texts whose prepared statement Postgres refused to run again.
const refused = new WeakMap<pg.Client, Set<string>>();

interface QueryConfigLike {
  text?: unknown;
  name?: unknown;
  values?: unknown;
  submit?: unknown;
}

function nameFor(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < maxNamedStatements) {
    name = `toolmesh_${names.size + 1}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Names the parameterized statement among pg's query arguments (`text, values[, callback]` or
 * a config object), in place, so that pg prepares it once per connection and later runs only
 * bind and execute: Postgres then skips parsing and planning it, which for the mesh's
 * multi-row writes was a quarter to a third of the SQL CPU per chat (bench/README.md).
 * Statements without values (several commands in one text, DDL) stay unnamed, as do
 * submittables (cursors), statements named by the caller, and texts past the process's first 500.
 *
 * Returns a function to hand the statement's error, or undefined when nothing was named.
 * A prepared statement whose result columns changed under it (a migration added a column
 * that `SELECT *` reads) fails with "cached plan must not change result type" on every later
 * run; after that error its text runs unnamed on that connection, so only one call fails.
 */
export function nameStatement(client: pg.Client, args: unknown[]): ((error: unknown) => void) | undefined {
  const first = args[0] as QueryConfigLike | string | undefined;
  let text: string;
  if (typeof first === 'string') {
    if (!Array.isArray(args[1]) || args[1].length === 0) return undefined;
    text = first;
  } else {
    if (typeof first !== 'object' || first === null) return undefined;
    if (typeof first.submit === 'function' || first.name !== undefined || typeof first.text !== 'string') {
      return undefined;
    }
    const values = Array.isArray(first.values) ? first.values : args[1];
    if (!Array.isArray(values) || values.length === 0) return undefined;
    text = first.text;
  }
  if (refused.get(client)?.has(text)) return undefined;
  const name = nameFor(text);
  if (name === undefined) return undefined;
  if (typeof first === 'string') args.splice(0, 2, { name, text, values: args[1] });
  else args[0] = { ...first, name };
  return (error) => {
    if ((error as { routine?: unknown } | null)?.routine !== 'RevalidateCachedQuery') return;
    const texts = refused.get(client) ?? new Set<string>();
    texts.add(text);
    refused.set(client, texts);
  };
}
