import type http2 from 'node:http2';
import type { Interceptor } from '@connectrpc/connect';
import { Server as GrpcServer } from '@grpc/grpc-js';
import type { Clock } from '@toolmesh/clock';
import type { ServiceRegistration } from '../service-registration.ts';
import { addRegistrations } from './add-registrations.ts';
import { grpcJsInternals } from './grpc-js-internals.ts';

/** Options of {@link createGrpcStreamHandler}. */
export interface GrpcStreamHandlerOptions {
  /** Every service served, health and reflection included. */
  registrations: ServiceRegistration[];
  /** Every call runs through these, outermost first, as on connect-node's path of the same port. */
  interceptors: Interceptor[];
  /** Largest request message accepted (larger: RESOURCE_EXHAUSTED). */
  readMaxBytes: number;
  /** Aborts every call's signal at the end of the server's grace period. */
  shutdownSignal: AbortSignal;
  /** Times each call's deadline. */
  clock: Clock;
}

/** Serves one HTTP/2 stream that carries a gRPC call. */
export type GrpcStreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

/**
 * gRPC calls of a port that grpc-js does not own: a grpc-js server that never binds serves the
 * streams it is handed, with the same handlers, interceptors and message limit as a bound one.
 * The gateway's public port uses it for plain gRPC, the bulk of its traffic, while gRPC-Web,
 * Connect and HTTP/1.1 on the same connections stay with connect-node: a call then costs what
 * it costs on an internal port instead of connect's per-call pipeline (async iterables for a
 * unary call, Node⇄Fetch header copies, a DOMException when its context ends).
 */
export function createGrpcStreamHandler(options: GrpcStreamHandlerOptions): GrpcStreamHandler {
  const server = new GrpcServer({
    'grpc.max_receive_message_length': options.readMaxBytes,
    // Per-call bookkeeping nobody reads: our own metrics and traces cover it.
    'grpc.enable_channelz': 0,
  });
  addRegistrations(server, options.registrations, {
    interceptors: options.interceptors,
    shutdownSignal: options.shutdownSignal,
    clock: options.clock,
  });
  return grpcJsInternals(server).serveStream;
}
