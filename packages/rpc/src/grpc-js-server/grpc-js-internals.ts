import type http2 from 'node:http2';
import type { Server as GrpcServer } from '@grpc/grpc-js';

/** The parts of a grpc-js server that it has no public setting or event for. */
export interface GrpcJsInternals {
  /** The options every `node:http2` server it creates at bind time gets (SETTINGS among them). */
  readonly http2Options: http2.ServerOptions;
  /** The `node:http2` servers bound so far. */
  http2Servers(): Iterable<http2.Http2Server | http2.Http2SecureServer>;
  /** The client connections open now. */
  sessions(): http2.ServerHttp2Session[];
  /**
   * Serves one HTTP/2 stream of a gRPC call as a bound server would: content type check,
   * method lookup (UNIMPLEMENTED if none), message size limits, then the method's handler.
   */
  serveStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void;
}

/**
 * Reaches into grpc-js (1.14, pinned) for what it does not expose: the HTTP/2 header list bound
 * the connect-node listener advertises, TLS handshake failures to log, the open sessions
 * (its `forceShutdown` only destroys those it tracks for channelz, which is off), and its
 * per-stream entry point, for streams of a port it does not own (the gateway's public port,
 * which serves gRPC-Web and Connect on the same connections). Throws at
 * construction if the fields are gone, so an upgrade that moves them fails loudly (and the
 * listener tests that check the advertised SETTINGS and the handshake log fail with it).
 */
export function grpcJsInternals(server: GrpcServer): GrpcJsInternals {
  const fields = server as unknown as {
    commonServerOptions?: http2.ServerOptions;
    http2Servers?: Map<
      http2.Http2Server | http2.Http2SecureServer,
      { sessions?: Set<http2.ServerHttp2Session> }
    >;
    _streamHandler?: (
      extraInterceptors: unknown[],
      stream: http2.ServerHttp2Stream,
      headers: http2.IncomingHttpHeaders,
    ) => void;
  };
  const { commonServerOptions: http2Options, http2Servers, _streamHandler: streamHandler } = fields;
  if (!http2Options || !(http2Servers instanceof Map) || typeof streamHandler !== 'function') {
    throw new Error(
      '@grpc/grpc-js internals changed: commonServerOptions, http2Servers or _streamHandler not found',
    );
  }
  const noInterceptors: unknown[] = [];
  return {
    http2Options,
    http2Servers: () => http2Servers.keys(),
    sessions: () => [...http2Servers.values()].flatMap((info) => [...(info.sessions ?? [])]),
    serveStream: (stream, headers) => streamHandler.call(server, noInterceptors, stream, headers),
  };
}
