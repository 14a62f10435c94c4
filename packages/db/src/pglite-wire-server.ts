import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { closeStatementMessage, scopeStatementName } from './scope-statement-name.ts';
import { requestsReadOnly, startupParameters } from './startup-parameters.ts';
import {
  encodeMessage,
  errorResponse,
  FrontendMessageReader,
  guardMessage,
  ProtocolViolation,
  queryMessage,
} from './wire-protocol.ts';

/** Options of {@link startPGliteWireServer}. */
export interface PGliteWireServerOptions {
  /** The database served; the caller keeps owning it (and closes it after the server). */
  db: PGlite;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Open client connections at most; the next one gets SQLSTATE 53300. Default 100. */
  maxConnections?: number;
  /** Largest message a client may send; default 64 MiB. */
  maxMessageBytes?: number;
}

/** A listening {@link startPGliteWireServer}. */
export interface PGliteWireServer {
  readonly host: string;
  readonly port: number;
  /** Units of client work queued for the single PGlite session: how much is waiting behind the one running. */
  waitingUnits(): number;
  /** Stops accepting, drops every connection, and waits for the unit running in PGlite to end. */
  close(): Promise<void>;
}

/** Work for the single PGlite session, in arrival order. */
type Job =
  /** Messages of one connection that must run back to back (up to Sync, Query, Flush or FunctionCall). */
  | { kind: 'unit'; conn: Connection; bytes: Buffer; extendedOpenAfter: boolean }
  /** Terminate: close the connection once everything it sent before has run. */
  | { kind: 'terminate'; conn: Connection }
  /** The owner of the session left: end its transaction so others can run. */
  | { kind: 'release'; conn: Connection }
  /** A connection left: close the statements it prepared (Close messages and a Sync). */
  | { kind: 'forget'; conn: Connection; bytes: Buffer };

const SYNC = encodeMessage('S');
const ROLLBACK = queryMessage('ROLLBACK');
const READ_ONLY_ON = queryMessage('SET default_transaction_read_only = on');
const READ_ONLY_OFF = queryMessage('SET default_transaction_read_only = off');
/** Messages of the extended query protocol; they leave state (the unnamed statement and portal) until Sync. */
const EXTENDED = new Set(['P', 'B', 'D', 'E', 'C']);
/** Messages after which the client waits for an answer. */
const UNIT_END = new Set(['S', 'Q', 'H', 'F']);
/** Pause reading a connection whose answers are not read or whose queued work is this large. */
const BACKLOG_BYTES = 8 * 1024 * 1024;
/** Let sockets breathe between this many units when the queue stays busy. */
const UNITS_PER_TURN = 64;

/** One client connection: its framing state and its place in the session's queue. */
class Connection {
  readonly reader: FrontendMessageReader;
  #unit: Buffer[] = [];
  /** Framed so far: extended-protocol messages sent since the last Sync. */
  #framedExtendedOpen = false;
  /** Executed so far: the same, as of the last unit PGlite ran. */
  extendedOpen = false;
  queuedBytes = 0;
  closed = false;
  /** Started with default_transaction_read_only on: its transactions are read-only. */
  readOnly = false;
  /** The session-wide names of the statements this connection prepared and has not closed. */
  readonly statements = new Set<string>();

  readonly socket: net.Socket;
  /** Prefixes this connection's statement names in the shared session. */
  readonly #scope: string;

  constructor(socket: net.Socket, maxMessageBytes: number, scope: string) {
    this.socket = socket;
    this.reader = new FrontendMessageReader(maxMessageBytes);
    this.#scope = scope;
  }

  /** Adds a typed message; returns the unit it completes, if any. */
  add(type: string, bytes: Buffer): Job | undefined {
    const scoped = scopeStatementName(type, guardMessage(type, bytes), this.#scope);
    if (scoped.created) this.statements.add(scoped.created);
    if (scoped.closed) this.statements.delete(scoped.closed);
    this.#unit.push(scoped.bytes);
    if (EXTENDED.has(type)) this.#framedExtendedOpen = true;
    else if (type === 'S') this.#framedExtendedOpen = false;
    if (!UNIT_END.has(type)) return undefined;
    const unit = Buffer.concat(this.#unit);
    this.#unit = [];
    return { kind: 'unit', conn: this, bytes: unit, extendedOpenAfter: this.#framedExtendedOpen };
  }

  get unitBytes(): number {
    return this.#unit.reduce((n, b) => n + b.length, 0);
  }

  send(bytes: Buffer): void {
    if (!this.closed && bytes.length > 0 && this.socket.writable) this.socket.write(bytes);
  }

  /** Reads no more while answers pile up unread or queued work is large: bounded memory per client. */
  updateFlow(): void {
    if (this.closed) return;
    const backlog = this.socket.writableLength + this.queuedBytes + this.unitBytes;
    if (backlog > BACKLOG_BYTES) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }
}

/**
 * The one PGlite session shared by all connections: a FIFO of jobs run one at a time
 * under `db.runExclusive`. A connection in a transaction (or in the middle of an
 * extended-protocol exchange) owns the session: only its jobs run until that ends.
 */
class Session {
  #queue: Job[] = [];
  #owner: Connection | undefined;
  #running = false;
  #stopped = false;
  #failed: unknown;
  #idle: Array<() => void> = [];
  /** default_transaction_read_only of the shared session, as last set for a connection. */
  #readOnly = false;

  readonly #db: PGlite;
  readonly #closeConnection: (conn: Connection, graceful: boolean) => void;

  constructor(db: PGlite, closeConnection: (conn: Connection, graceful: boolean) => void) {
    this.#db = db;
    this.#closeConnection = closeConnection;
  }

  get waiting(): number {
    return this.#queue.reduce((n, job) => (job.kind === 'unit' ? n + 1 : n), 0);
  }

  enqueue(job: Job): void {
    if (this.#stopped) return;
    if (job.kind === 'unit') job.conn.queuedBytes += job.bytes.length;
    this.#queue.push(job);
    void this.#pump();
  }

  /**
   * Forgets a closed connection's queued work; an owner's transaction is rolled back by the
   * pump, and the statements it prepared are closed after that.
   */
  dropConnection(conn: Connection): void {
    this.#queue = this.#queue.filter((job) => job.conn !== conn);
    conn.queuedBytes = 0;
    if (conn.statements.size > 0 && !this.#stopped) {
      const closes = [...conn.statements].map(closeStatementMessage);
      conn.statements.clear();
      this.#queue.push({ kind: 'forget', conn, bytes: Buffer.concat([...closes, SYNC]) });
      void this.#pump();
    } else if (this.#owner === conn) void this.#pump();
  }

  stop(): Promise<void> {
    this.#stopped = true;
    this.#queue = [];
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #next(): Job | undefined {
    const owner = this.#owner;
    if (!owner) return this.#queue.shift();
    if (owner.closed) return { kind: 'release', conn: owner };
    const i = this.#queue.findIndex((job) => job.conn === owner);
    return i < 0 ? undefined : this.#queue.splice(i, 1)[0];
  }

  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      let turn = 0;
      for (let job = this.#next(); job && !this.#stopped; job = this.#next()) {
        await this.#run(job);
        if (++turn % UNITS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.#running = false;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #run(job: Job): Promise<void> {
    const { conn } = job;
    if (job.kind === 'terminate') {
      this.#closeConnection(conn, true);
      return;
    }
    if (this.#failed !== undefined) {
      this.#owner = undefined;
      conn.send(errorResponse('57P01', 'the embedded database stopped after an internal error'));
      this.#closeConnection(conn, true);
      return;
    }
    const bytes = job.kind === 'release' ? Buffer.concat([SYNC, ROLLBACK]) : job.bytes;
    if (job.kind === 'unit') conn.queuedBytes -= bytes.length;
    const output: Buffer[] = [];
    const startup = bytes[0] === 0;
    let refused = false;
    try {
      await this.#db.runExclusive(async () => {
        // The session is shared: it takes the connection's read-only setting before its
        // unit runs. A transaction open here would be this connection's own (another's
        // keeps the session to itself), so the setting changes only between transactions.
        if (job.kind === 'unit' && !startup && conn.readOnly !== this.#readOnly) {
          const answer: Buffer[] = [];
          await this.#db.execProtocolRawStream(conn.readOnly ? READ_ONLY_ON : READ_ONLY_OFF, {
            onRawData: (data) => answer.push(Buffer.from(data)),
          });
          if (hasErrorResponse(Buffer.concat(answer))) {
            refused = true;
            return;
          }
          this.#readOnly = conn.readOnly;
        }
        // PGlite runs several messages per call; its chunks are views into WASM memory, so copy.
        await this.#db.execProtocolRawStream(bytes, { onRawData: (data) => output.push(Buffer.from(data)) });
      });
    } catch (error) {
      // A rejected startup packet throws (with the FATAL answer already written); the
      // database stays usable. Anything else means its runtime died: refuse further work
      // instead of risking a process-wide hang in the next call.
      if (!startup) this.#failed = error;
      if (job.kind === 'unit') {
        conn.send(output.length > 0 ? Buffer.concat(output) : errorResponse('XX000', 'internal error'));
        this.#closeConnection(conn, true);
      }
      if (!startup) this.#owner = undefined;
      return;
    }
    if (job.kind === 'release') {
      this.#owner = undefined;
      return;
    }
    if (job.kind === 'forget') return;
    if (refused) {
      // Never run a read-only connection's work in a session that may write.
      conn.send(errorResponse('XX000', 'could not set the session read-only for this connection'));
      this.#closeConnection(conn, true);
      return;
    }
    conn.send(Buffer.concat(output));
    conn.extendedOpen = job.extendedOpenAfter;
    this.#owner = this.#db.isInTransaction() || conn.extendedOpen ? conn : undefined;
    conn.updateFlow();
  }
}

/** Whether backend messages hold an ErrorResponse. */
function hasErrorResponse(bytes: Buffer): boolean {
  for (let at = 0; at + 5 <= bytes.length; at += 1 + bytes.readInt32BE(at + 1)) {
    if (bytes[at] === 0x45) return true;
  }
  return false;
}

/**
 * Serves one PGlite database to many wire-protocol clients (the `pg` driver, psql).
 * Each connection's messages are grouped into units that run back to back (so an
 * extended-protocol Parse/Bind/Execute/Sync is never interleaved with another
 * client's), and a client inside a transaction has the session to itself until it
 * commits, rolls back, or disconnects (then it is rolled back).
 *
 * All clients share one Postgres session: session-level SET, statements prepared with
 * SQL's PREPARE and temporary tables are visible to every connection. Statements named in
 * the extended protocol (Parse, as pg names them) are each connection's own, as in
 * Postgres: their names are scoped to the connection, and they are closed when it goes;
 * what would drop them all (DISCARD ALL, DEALLOCATE ALL) is refused. Startup parameters
 * are ignored, except `default_transaction_read_only` (in `options` as
 * `-c default_transaction_read_only=on`, or on its own): the session takes that
 * connection's value whenever one of its units runs, so its transactions are read-only.
 */
export async function startPGliteWireServer(options: PGliteWireServerOptions): Promise<PGliteWireServer> {
  const { db } = options;
  const host = options.host ?? '127.0.0.1';
  const maxConnections = options.maxConnections ?? 100;
  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  await db.waitReady;

  const connections = new Set<Connection>();
  let closing = false;
  // Connections accepted so far: each one's number scopes its statement names.
  let opened = 0;

  // Sockets being ended gracefully, no longer counted as connections.
  const lingering = new Set<net.Socket>();
  const linger = (socket: net.Socket, farewell?: Buffer) => {
    lingering.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => lingering.delete(socket));
    if (farewell) socket.end(farewell);
    else socket.end();
    // A client that never closes its side must not hold the socket.
    setTimeout(() => socket.destroy(), 1_000).unref();
  };

  /** `graceful` lets what was written (answers, a FATAL error) reach the client before the socket closes. */
  const closeConnection = (conn: Connection, graceful = false) => {
    if (conn.closed) return;
    conn.closed = true;
    connections.delete(conn);
    if (graceful) linger(conn.socket);
    else conn.socket.destroy();
    session.dropConnection(conn);
  };
  const session = new Session(db, closeConnection);

  const onData = (conn: Connection, chunk: Buffer) => {
    if (conn.closed) return;
    conn.reader.push(chunk);
    try {
      for (let message = conn.reader.next(); message && !conn.closed; message = conn.reader.next()) {
        switch (message.kind) {
          case 'ssl-request':
          case 'gssenc-request':
            conn.send(Buffer.from('N'));
            break;
          case 'cancel-request':
            // PGlite runs one statement at a time to its end; there is nothing to cancel.
            closeConnection(conn, true);
            break;
          case 'startup':
            conn.readOnly = requestsReadOnly(startupParameters(message.bytes));
            session.enqueue({ kind: 'unit', conn, bytes: message.bytes, extendedOpenAfter: false });
            break;
          case 'typed': {
            if (message.type === 'X') {
              session.enqueue({ kind: 'terminate', conn });
              break;
            }
            const unit = conn.add(message.type, message.bytes);
            if (unit) session.enqueue(unit);
            break;
          }
        }
      }
      conn.updateFlow();
    } catch (error) {
      // Whatever one client sends costs that client its connection, never the process.
      const violation = error instanceof ProtocolViolation;
      conn.send(
        errorResponse(violation ? error.sqlState : 'XX000', violation ? error.message : 'internal error'),
      );
      closeConnection(conn, true);
    }
  };

  const server = net.createServer((socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    if (connections.size >= maxConnections) {
      linger(socket, errorResponse('53300', 'sorry, too many clients already'));
      return;
    }
    socket.setNoDelay(true);
    const conn = new Connection(socket, maxMessageBytes, `${(++opened).toString(36)}/`);
    connections.add(conn);
    socket.on('data', (chunk: Buffer) => onData(conn, chunk));
    socket.on('drain', () => conn.updateFlow());
    socket.on('error', () => closeConnection(conn));
    socket.on('close', () => closeConnection(conn));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After listening, a server error (rare: EMFILE on accept) must not crash the process.
  server.on('error', () => {});
  const address = server.address() as net.AddressInfo;

  return {
    host,
    port: address.port,
    waitingUnits: () => session.waiting,
    async close() {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const conn of [...connections]) closeConnection(conn);
      for (const socket of lingering) socket.destroy();
      await session.stop();
      await closed;
    },
  };
}
