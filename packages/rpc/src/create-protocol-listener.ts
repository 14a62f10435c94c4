import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { connectNodeAdapter } from '@connectrpc/connect-node';
import { sessionMemoryMb } from './session-memory.ts';

/** A request listener for both `node:http` and `node:http2`, as connect-node's adapter returns. */
export type RequestHandler = ReturnType<typeof connectNodeAdapter>;

/** Options of {@link createProtocolListener}. */
export interface ProtocolListenerOptions {
  /** Serves every request, whichever HTTP version carried it. */
  handler: RequestHandler;
  /** A connection that sends nothing for this long is dropped; default 30 s. */
  firstBytesTimeoutMs?: number;
}

/**
 * One TCP port that speaks HTTP/2 without TLS (gRPC, h2c) and HTTP/1.1 (Connect/JSON
 * with curl, gRPC-Web and Connect from browsers) to the same handler.
 */
export interface ProtocolListener {
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host: string): Promise<number>;
  /**
   * Stops accepting connections, sends GOAWAY to HTTP/2 clients and closes HTTP/1.1
   * connections as soon as they are idle; resolves when every connection is gone.
   */
  close(): Promise<void>;
  /** Drops every connection at once (the end of a grace period). */
  destroyAll(): void;
}

// The HTTP/2 connection preface (RFC 9113 §3.4): a prior-knowledge h2c client
// sends it first, while an HTTP/1.1 request starts with a method name.
const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

type Route = 'h2' | 'http1' | 'wait';

function routeOf(head: Buffer): Route {
  const n = Math.min(head.length, preface.length);
  if (!head.subarray(0, n).equals(preface.subarray(0, n))) return 'http1';
  return n === preface.length ? 'h2' : 'wait';
}

/**
 * Peeks at the first bytes of every connection and hands it to an HTTP/2 or an
 * HTTP/1.1 server, both serving the same handler. Node's http2 server accepts
 * HTTP/1.1 only through TLS ALPN, and connect-node's adapter serves both kinds
 * of request, so sniffing is what lets one plaintext port do both.
 */
export function createProtocolListener(options: ProtocolListenerOptions): ProtocolListener {
  const firstBytesTimeoutMs = options.firstBytesTimeoutMs ?? 30_000;
  let closing = false;

  const h2 = http2.createServer({ maxSessionMemory: sessionMemoryMb }, options.handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    if (closing) session.close();
  });

  // HTTP/1.1 keep-alive connections and how many requests each is serving, so that
  // shutdown can close idle ones at once and busy ones after their last response.
  const http1Sockets = new Map<Socket, number>();
  const h1 = http.createServer({}, (req, res) => {
    const socket = req.socket;
    http1Sockets.set(socket, (http1Sockets.get(socket) ?? 0) + 1);
    if (closing) res.shouldKeepAlive = false;
    res.once('close', () => {
      const active = (http1Sockets.get(socket) ?? 1) - 1;
      if (!http1Sockets.has(socket)) return;
      http1Sockets.set(socket, active);
      if (closing && active === 0) socket.end();
    });
    options.handler(req, res);
  });

  const undecided = new Set<Socket>();
  const route = (socket: Socket) => {
    undecided.add(socket);
    const chunks: Buffer[] = [];
    const abandon = () => {
      undecided.delete(socket);
      socket.destroy();
    };
    socket.setTimeout(firstBytesTimeoutMs, abandon);
    socket.once('error', abandon);
    socket.once('end', abandon);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      const head = Buffer.concat(chunks);
      const to = routeOf(head);
      if (to === 'wait') return;
      socket.off('data', onData);
      socket.off('error', abandon);
      socket.off('end', abandon);
      socket.setTimeout(0);
      socket.pause();
      // Both servers read what was peeked as if it had just arrived.
      socket.unshift(head);
      undecided.delete(socket);
      if (to === 'h2') {
        // The session takes over the socket's handle and first drains what was unshifted.
        h2.emit('connection', socket);
      } else {
        http1Sockets.set(socket, 0);
        socket.once('close', () => http1Sockets.delete(socket));
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  };

  const server = net.createServer({ noDelay: true }, route);

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      closing = true;
      // net.Server.close resolves once every accepted connection has closed.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      for (const [socket, active] of http1Sockets) if (active === 0) socket.end();
      for (const socket of undecided) socket.destroy();
      return closed;
    },
    destroyAll() {
      for (const session of sessions) session.destroy();
      for (const socket of http1Sockets.keys()) socket.destroy();
      for (const socket of undecided) socket.destroy();
    },
  };
}
