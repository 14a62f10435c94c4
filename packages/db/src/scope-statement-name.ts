import { encodeMessage } from './wire-protocol.ts';

/** A frontend message with its prepared statement's name scoped to one connection. */
export interface ScopedMessage {
  bytes: Buffer;
  /** The scoped name of the statement a Parse creates or a Close of a statement removes. */
  created?: string;
  closed?: string;
}

// Where the statement's name starts in a message of this type: after the type byte and
// length, behind the portal's name (Bind) or the 'S' of a statement (Describe, Close).
function nameStart(type: string, bytes: Buffer): number | undefined {
  if (type === 'P') return 5;
  if (type === 'B') {
    const portalEnd = bytes.indexOf(0, 5);
    return portalEnd < 0 ? undefined : portalEnd + 1;
  }
  if ((type === 'D' || type === 'C') && bytes[5] === 0x53 /* 'S' */) return 6;
  return undefined;
}

/**
 * Prefixes the name of the prepared statement a Parse, Bind, Describe or Close message refers
 * to with `scope`, so that connections sharing one PGlite session each have their own named
 * statements, as each has with Postgres. The unnamed statement, portals and every other
 * message pass as they are; so does a malformed message, which Postgres then reports.
 * Postgres keeps a name's first 63 bytes: a client's own names longer than that less the
 * scope's length could meet another of its names, as they would past 63 in Postgres.
 */
export function scopeStatementName(type: string, bytes: Buffer, scope: string): ScopedMessage {
  const start = nameStart(type, bytes);
  if (start === undefined || bytes[start] === 0) return { bytes };
  const end = bytes.indexOf(0, start);
  if (end < 0) return { bytes };
  // The client's name bytes pass as they are; the string only keeps track of it.
  const name = `${scope}${bytes.toString('latin1', start, end)}`;
  const scoped = encodeMessage(
    type,
    Buffer.concat([bytes.subarray(5, start), Buffer.from(scope), bytes.subarray(start)]),
  );
  if (type === 'P') return { bytes: scoped, created: name };
  if (type === 'C') return { bytes: scoped, closed: name };
  return { bytes: scoped };
}

/** A Close message for the prepared statement `name` (already scoped, as {@link ScopedMessage} tells it). */
export function closeStatementMessage(name: string): Buffer {
  return encodeMessage('C', Buffer.from(`S${name}\0`, 'latin1'));
}
