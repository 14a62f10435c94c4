// The frontend (client → server) side of the PostgreSQL wire protocol v3, as far as a
// server in front of PGlite must understand it: framing, the startup phase, and the
// few messages PGlite cannot be handed as they are.

const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;
/** Postgres refuses longer startup packets (MAX_STARTUP_PACKET_LENGTH). */
const MAX_STARTUP_PACKET_LENGTH = 10_000;
/** Postgres' PQ_SMALL_MESSAGE_LIMIT for messages that never carry user data. */
const SMALL_MESSAGE_LIMIT = 10_000;
const SMALL_MESSAGE_TYPES = new Set(['S', 'H', 'C', 'D', 'E', 'c', 'f', 'X']);
/**
 * The message types a backend accepts after startup. Postgres answers any other type
 * with a FATAL error and exits; PGlite, a single process, would hang instead.
 */
const FRONTEND_MESSAGE_TYPES = new Set(['Q', 'F', 'X', 'B', 'C', 'D', 'E', 'H', 'P', 'S', 'd', 'c', 'f']);

/** One complete frontend message. */
export type FrontendMessage =
  | { kind: 'ssl-request' }
  | { kind: 'gssenc-request' }
  | { kind: 'cancel-request' }
  | { kind: 'startup'; bytes: Buffer }
  | { kind: 'typed'; type: string; bytes: Buffer };

/** The client broke the protocol; the connection gets a FATAL error and is closed. */
export class ProtocolViolation extends Error {
  readonly sqlState: string;
  constructor(message: string, sqlState = '08P01') {
    super(message);
    this.name = 'ProtocolViolation';
    this.sqlState = sqlState;
  }
}

/**
 * Cuts one connection's byte stream into frontend messages: the untyped startup-phase
 * messages (int32 length, int32 code) until a StartupMessage, then typed messages
 * (type byte, int32 length including itself).
 */
export class FrontendMessageReader {
  #chunks: Buffer[] = [];
  #length = 0;
  #started = false;
  readonly #maxMessageBytes: number;

  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The next complete message, or undefined until more bytes arrive. Throws {@link ProtocolViolation}. */
  next(): FrontendMessage | undefined {
    return this.#started ? this.#nextTyped() : this.#nextStartupPhase();
  }

  #nextStartupPhase(): FrontendMessage | undefined {
    if (this.#length < 8) return undefined;
    const head = this.#peek(8);
    const length = head.readInt32BE(0);
    const code = head.readInt32BE(4);
    if (length < 8 || length > MAX_STARTUP_PACKET_LENGTH)
      throw new ProtocolViolation('invalid length of startup packet');
    if (this.#length < length) return undefined;
    const bytes = this.#take(length);
    if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
      if (length !== 8) throw new ProtocolViolation('invalid length of startup packet');
      return { kind: code === SSL_REQUEST_CODE ? 'ssl-request' : 'gssenc-request' };
    }
    if (code === CANCEL_REQUEST_CODE) return { kind: 'cancel-request' };
    const major = code >>> 16;
    if (major !== 3) {
      throw new ProtocolViolation(`unsupported frontend protocol ${major}.${code & 0xffff}`, '0A000');
    }
    this.#started = true;
    return { kind: 'startup', bytes };
  }

  #nextTyped(): FrontendMessage | undefined {
    if (this.#length < 5) return undefined;
    const head = this.#peek(5);
    const type = String.fromCharCode(head[0] as number);
    const length = head.readInt32BE(1);
    if (!FRONTEND_MESSAGE_TYPES.has(type)) {
      throw new ProtocolViolation(`invalid frontend message type ${head[0]}`);
    }
    const limit = SMALL_MESSAGE_TYPES.has(type) ? SMALL_MESSAGE_LIMIT : this.#maxMessageBytes;
    if (length < 4 || length > limit) throw new ProtocolViolation(`invalid message length ${length}`);
    if (this.#length < 1 + length) return undefined;
    return { kind: 'typed', type, bytes: this.#take(1 + length) };
  }

  /** The first n buffered bytes, joined only when they span chunks. */
  #peek(n: number): Buffer {
    this.#coalesce(n);
    return (this.#chunks[0] as Buffer).subarray(0, n);
  }

  #take(n: number): Buffer {
    this.#coalesce(n);
    const first = this.#chunks[0] as Buffer;
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#length -= n;
    return first.subarray(0, n);
  }

  // Joins chunks only once a whole message is there: linear in the message size.
  #coalesce(n: number): void {
    if ((this.#chunks[0] as Buffer).length >= n) return;
    let size = 0;
    let count = 0;
    while (size < n) size += (this.#chunks[count++] as Buffer).length;
    this.#chunks.splice(0, count, Buffer.concat(this.#chunks.slice(0, count), size));
  }
}

/** A typed message with the given body. */
export function encodeMessage(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A simple-protocol Query message. */
export function queryMessage(sql: string): Buffer {
  return encodeMessage('Q', Buffer.from(`${sql}\0`));
}

/** A backend ErrorResponse (severity FATAL unless told otherwise). */
export function errorResponse(sqlState: string, message: string, severity = 'FATAL'): Buffer {
  const field = (code: string, value: string) => `${code}${value.replaceAll('\0', '')}\0`;
  const body = `${field('S', severity)}${field('V', severity)}${field('C', sqlState)}${field('M', message)}\0`;
  return encodeMessage('E', Buffer.from(body));
}

// SQL's leading blanks and comments, after the start or a semicolon.
const STATEMENT_START = String.raw`(?:^|;)(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*`;

// Statements the embedded database refuses with SQLSTATE 0A000, swapped for one raising it,
// which the protocol then handles like any failed statement.
const REFUSED: readonly { pattern: RegExp; sql: string }[] = [
  // COPY ... FROM STDIN makes the backend wait for CopyData the client sends only after
  // seeing CopyInResponse. PGlite cannot wait: it reads end-of-input, raises FATAL and its
  // runtime is gone for every connection.
  {
    pattern: new RegExp(`${STATEMENT_START}copy\\b[^;]*\\bfrom\\s+stdin\\b`, 'i'),
    sql: refusal('COPY FROM STDIN is not supported by the embedded database'),
  },
  // The session is shared by every connection: these would drop the statements every other
  // connection prepared, and pg would go on binding them (SQLSTATE 26000 ever after).
  // (DISCARD PLANS only makes them be planned again.)
  {
    pattern: new RegExp(`${STATEMENT_START}(?:discard\\s+all|deallocate\\s+(?:prepare\\s+)?all)\\b`, 'i'),
    sql: refusal('DISCARD ALL and DEALLOCATE ALL are not supported by the embedded database'),
  },
];

function refusal(message: string): string {
  return `DO $toolmesh$ BEGIN RAISE EXCEPTION USING ERRCODE = 'feature_not_supported', MESSAGE = '${message}'; END $toolmesh$`;
}

// The refusal replacing `sql`, if it is refused.
const refusedSql = (sql: string) => REFUSED.find((r) => r.pattern.test(sql))?.sql;

/**
 * Returns the message to hand to PGlite: the message itself, or for a Query or Parse
 * holding a statement the embedded database refuses (COPY FROM STDIN, or what would reset
 * the shared session's prepared statements), one whose statement fails with SQLSTATE 0A000.
 */
export function guardMessage(type: string, bytes: Buffer): Buffer {
  if (type === 'Q') {
    const refused = refusedSql(bytes.toString('utf8', 5, bytes.length - 1));
    return refused ? queryMessage(refused) : bytes;
  }
  if (type === 'P') {
    const nameEnd = bytes.indexOf(0, 5);
    const sqlEnd = nameEnd < 0 ? -1 : bytes.indexOf(0, nameEnd + 1);
    if (sqlEnd < 0) return bytes; // malformed: Postgres itself reports it
    const refused = refusedSql(bytes.toString('utf8', nameEnd + 1, sqlEnd));
    if (!refused) return bytes;
    const name = bytes.subarray(5, nameEnd + 1);
    return encodeMessage('P', Buffer.concat([name, Buffer.from(`${refused}\0`), Buffer.from([0, 0])]));
  }
  return bytes;
}
