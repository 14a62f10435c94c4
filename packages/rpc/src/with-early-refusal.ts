import type http2 from 'node:http2';
import type { DescMethod } from '@bufbuild/protobuf';
import { ConnectError } from '@connectrpc/connect';
import type { Registry } from '@toolmesh/telemetry';
import { withErrorInfo } from './error-details.ts';
import { type GrpcStreamHandler, grpcErrorResponse } from './grpc-js-server/index.ts';
import { recordServerCallAnsweredEarly } from './grpc-metrics.ts';
import { sanitizedErrorHeader } from './sanitized-error.ts';

/**
 * What createServer's `earlyRefusal` refuses. The refusal skips the interceptors: it is
 * answered with the error boundary's marks (ErrorInfo, the sanitized trailer) and counted in the
 * grpc_server_* series as the interceptors would count it, but has no span and no request id.
 * Whatever the interceptors must check first (authentication) `refuse` checks itself.
 */
export interface EarlyRefusal {
  /** The methods it may refuse; calls of any other method never reach `refuse`. */
  methods: readonly DescMethod[];
  /**
   * An error meant for the caller (e.g. `errorFor`) to end the call with at once, or undefined
   * to serve it as usual; a rejected promise serves it as usual too. Answer undefined
   * synchronously in the common case: the call then goes on in the same tick, at no cost.
   */
  refuse(headers: http2.IncomingHttpHeaders): ConnectError | undefined | Promise<ConnectError | undefined>;
}

/**
 * Wraps `serve` (a gRPC call's HTTP/2 stream) so that a call of one of the refusal's methods
 * is first offered to it. A refused call is answered trailers-only (HEADERS with END_STREAM),
 * with the status headers the grpc-js path sends for the same error, and its request body is
 * discarded unread: no parsing, no context, no interceptor, no promise chain per message.
 */
export function withEarlyRefusal(
  refusal: EarlyRefusal,
  metrics: Registry | undefined,
  serve: GrpcStreamHandler,
): GrpcStreamHandler {
  const methods = new Map(refusal.methods.map((m) => [`/${m.parent.typeName}/${m.name}`, m]));
  // The status headers of each error answered: a refusal that answers the same error again
  // (the same retry hint) is encoded once.
  const encoded = new WeakMap<ConnectError, http2.OutgoingHttpHeaders>();
  const headersOf = (error: ConnectError) => {
    let headers = encoded.get(error);
    if (!headers) {
      // What the error boundary adds to every status it lets out.
      const status = withErrorInfo(error);
      status.metadata.set(sanitizedErrorHeader, '1');
      // As grpc-js answers a call that fails before its first message (trailers-only).
      const { code, details, metadata } = grpcErrorResponse(status);
      headers = {
        'grpc-status': code,
        'grpc-message': encodeURI(details),
        ':status': 200,
        'content-type': 'application/grpc+proto',
        ...metadata.toHttp2Headers(),
      };
      encoded.set(error, headers);
    }
    return headers;
  };
  return (stream, headers) => {
    const method = methods.get(String(headers[':path'] ?? ''));
    if (!method) return serve(stream, headers);
    const startedAt = performance.now();
    const answer = (error: ConnectError) => {
      // The caller went away while `refuse` was deciding: nothing to answer, nothing handled.
      if (stream.destroyed || stream.headersSent) return;
      stream.respond({ ...headersOf(error) }, { endStream: true });
      stream.resume();
      if (metrics)
        recordServerCallAnsweredEarly(metrics, method, error, (performance.now() - startedAt) / 1000);
    };
    let decided: ReturnType<EarlyRefusal['refuse']>;
    try {
      decided = refusal.refuse(headers);
    } catch {
      return serve(stream, headers);
    }
    if (decided === undefined) return serve(stream, headers);
    if (decided instanceof ConnectError) return answer(decided);
    decided.then(
      (error) => (error ? answer(error) : serve(stream, headers)),
      () => serve(stream, headers),
    );
  };
}
