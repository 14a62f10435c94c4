import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import type { connectNodeAdapter } from '@connectrpc/connect-node';
import type { Clock, ClockTimer } from '@toolmesh/clock';
import { sessionMemoryMb } from './session-memory.ts';
import { createTlsFiles, type TlsMaterial } from './tls/create-tls-files.ts';
import { defaultTlsCheckIntervalMs, type TlsSettings } from './tls/tls-settings.ts';

/** A request listener for both `node:http` and `node:http2`, as connect-node's adapter returns. */
export type RequestHandler = ReturnType<typeof connectNodeAdapter>;

/** Options of {@link createProtocolListener}. */
export interface ProtocolListenerOptions {
  /** Serves every request, whichever HTTP version carried it (but the streams `takeStream` takes). */
  handler: RequestHandler;
  /**
   * Offered every HTTP/2 stream first, with its headers, before `handler` sees it as a request:
   * true when it took the stream (it answers it), false to leave it to `handler`.
   */
  takeStream?: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;
  /** A connection that sends nothing (or, with TLS, does not finish its handshake) for this long is dropped; default 30 s. */
  firstBytesTimeoutMs?: number;
  /** What one client connection may hold; unset fields take {@link meshHttp2Limits}. */
  limits?: Partial<Http2Limits>;
  /** Serve over mutual TLS instead of plaintext; default plaintext (h2c and HTTP/1.1). */
  tls?: ListenerTlsOptions;
}

/**
 * Bounds on what one client connection may make the server hold. A client that opens more
 * streams than allowed has them wait on its side (a well-behaved HTTP/2 client honours the
 * advertised SETTINGS) or refused with REFUSED_STREAM; one that runs past the memory bound
 * loses its connection (ENHANCE_YOUR_CALM), not the server its memory.
 */
export interface Http2Limits {
  /** Streams open at once on one HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** Memory one HTTP/2 session may hold in nghttp2 (headers, unread and unsent data), MB. */
  maxSessionMemoryMb: number;
  /** Largest request header section: HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE and HTTP/1.1's limit, bytes. */
  maxHeaderListSize: number;
}

/**
 * Defaults for a listener that only the mesh's own clients reach. Each client process
 * multiplexes all of its calls to a server over one connection (every open ChatStream and
 * WatchTask of a gateway is a stream to the orchestrator), so a low stream cap would queue
 * one caller's chats behind another's long-lived streams. 4096 streams with their 64 KiB
 * flow-control windows (256 MB) fit in the session memory cap.
 */
export const meshHttp2Limits: Http2Limits = {
  maxConcurrentStreams: 4096,
  maxSessionMemoryMb: sessionMemoryMb,
  maxHeaderListSize: 64 * 1024,
};

/**
 * Bounds for a listener the outside world reaches (the gateway's public port): one
 * connection is one caller, who has no business holding more than 100 streams (the
 * RFC 9113 minimum a server should allow) or tens of MB of server memory.
 */
export const publicHttp2Limits: Http2Limits = {
  maxConcurrentStreams: 100,
  maxSessionMemoryMb: 32,
  maxHeaderListSize: 16 * 1024,
};

/** Mutual TLS of a {@link ProtocolListener}. */
export interface ListenerTlsOptions extends TlsSettings {
  /** Drives the checks for changed files. */
  clock: Clock;
  /** How often the files are checked for a change; default 10 s. */
  checkIntervalMs?: number;
  /** Told when changed files were taken (new connections present and trust them). */
  onReload?: () => void;
  /** Told when changed files could not be taken (the previous ones stay in use). */
  onReloadError?: (error: Error) => void;
  /** Told about every refused handshake: no client certificate, an unknown CA, not TLS at all. */
  onHandshakeError?: (error: Error) => void;
}

/**
 * One TCP port that speaks HTTP/2 (gRPC) and HTTP/1.1 (Connect/JSON with curl, gRPC-Web and
 * Connect from browsers) to the same handler: in plaintext (h2c) by default, or over mutual
 * TLS, where only clients with a certificate signed by the CA get past the handshake.
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
 * Puts `takeStream` in front of the compatibility layer of `h2`: Node turns each stream into the
 * request/response pair of the `request` handler in a `stream` listener it adds along with that
 * handler; the streams `takeStream` does not take still go to it, unchanged.
 */
function offerStreamsFirst(
  h2: http2.Http2Server,
  takeStream: NonNullable<ProtocolListenerOptions['takeStream']>,
) {
  const compat = h2.listeners('stream');
  if (compat.length !== 1) {
    throw new Error(
      `node:http2 changed: expected its one compatibility stream listener, found ${compat.length}`,
    );
  }
  const [toRequest] = compat as ((...args: unknown[]) => void)[];
  h2.removeAllListeners('stream');
  h2.on('stream', (stream, headers, flags, rawHeaders) => {
    if (!takeStream(stream, headers)) toRequest?.call(h2, stream, headers, flags, rawHeaders);
  });
}

function secureContextOptions(material: TlsMaterial): tls.SecureContextOptions {
  return { cert: material.cert, key: material.key, ca: material.ca };
}

/**
 * Peeks at the first bytes of every connection and hands it to an HTTP/2 or an
 * HTTP/1.1 server, both serving the same handler. Node's http2 server accepts
 * HTTP/1.1 only through TLS ALPN, and connect-node's adapter serves both kinds
 * of request, so sniffing is what lets one plaintext port do both. With TLS, a
 * `tls.Server` (never listening itself) does the handshake of every accepted
 * connection and ALPN picks the server instead; the files are re-read on change
 * and taken with `setSecureContext`, so new connections see rotated certificates
 * while established ones keep theirs.
 */
export function createProtocolListener(options: ProtocolListenerOptions): ProtocolListener {
  const firstBytesTimeoutMs = options.firstBytesTimeoutMs ?? 30_000;
  const limits: Http2Limits = { ...meshHttp2Limits };
  for (const [key, value] of Object.entries(options.limits ?? {})) {
    if (value !== undefined) limits[key as keyof Http2Limits] = value;
  }
  let closing = false;

  const h2 = http2.createServer(
    {
      maxSessionMemory: limits.maxSessionMemoryMb,
      settings: {
        maxConcurrentStreams: limits.maxConcurrentStreams,
        maxHeaderListSize: limits.maxHeaderListSize,
      },
    },
    options.handler,
  );
  if (options.takeStream) offerStreamsFirst(h2, options.takeStream);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    if (closing) session.close();
  });

  // HTTP/1.1 keep-alive connections and how many requests each is serving, so that
  // shutdown can close idle ones at once and busy ones after their last response.
  const http1Sockets = new Map<Socket, number>();
  const h1 = http.createServer({ maxHeaderSize: limits.maxHeaderListSize }, (req, res) => {
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

  const toHttp2 = (socket: Socket) => {
    // The session takes over the socket and first drains whatever was unshifted.
    h2.emit('connection', socket);
  };
  const toHttp1 = (socket: Socket) => {
    http1Sockets.set(socket, 0);
    socket.once('close', () => http1Sockets.delete(socket));
    h1.emit('connection', socket);
    socket.resume();
  };

  const undecided = new Set<Socket>();
  const sniff = (socket: Socket) => {
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
      if (to === 'h2') toHttp2(socket);
      else toHttp1(socket);
    };
    socket.on('data', onData);
  };

  // Every accepted TCP connection while it is in the TLS layer's hands (during the
  // handshake and after): the end of the grace period drops them too.
  const tcpSockets = new Set<Socket>();
  let reloadTimer: ClockTimer | undefined;
  let accept = sniff;
  const tlsOptions = options.tls;
  if (tlsOptions) {
    const files = createTlsFiles(tlsOptions, { onError: tlsOptions.onReloadError });
    const secure = tls.createServer({
      ...secureContextOptions(files.current()),
      // With both, a client without a certificate signed by the CA fails the handshake:
      // it never gets as far as an HTTP/2 stream.
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2', 'http/1.1'],
      minVersion: 'TLSv1.2',
      handshakeTimeout: firstBytesTimeoutMs,
    });
    secure.on('secureConnection', (socket: tls.TLSSocket) => {
      // Nothing was asked on it yet, as with an undecided plaintext connection at shutdown.
      if (closing) return socket.destroy();
      if (socket.alpnProtocol === 'h2') toHttp2(socket);
      else if (socket.alpnProtocol === 'http/1.1') toHttp1(socket);
      // A client that offered no ALPN at all: tell by its first bytes, as in plaintext.
      else sniff(socket);
    });
    secure.on('tlsClientError', (error) => tlsOptions.onHandshakeError?.(error));
    reloadTimer = tlsOptions.clock.setInterval(() => {
      if (!files.refresh()) return;
      secure.setSecureContext(secureContextOptions(files.current()));
      tlsOptions.onReload?.();
    }, tlsOptions.checkIntervalMs ?? defaultTlsCheckIntervalMs);
    reloadTimer.unref();
    accept = (socket) => {
      tcpSockets.add(socket);
      socket.once('close', () => tcpSockets.delete(socket));
      secure.emit('connection', socket);
    };
  }

  const server = net.createServer({ noDelay: true }, (socket) => accept(socket));

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
      reloadTimer?.cancel();
      // net.Server.close resolves once every accepted connection has closed; a TLS
      // handshake still under way ends, and its connection is dropped, or times out.
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
      for (const socket of tcpSockets) socket.destroy();
    },
  };
}
