import type { Readable, Writable } from 'node:stream';
import { Code, ConnectError, type Interceptor, type MethodImplSpec } from '@connectrpc/connect';
import { transformInvokeImplementation } from '@connectrpc/connect/protocol';
import type {
  handleBidiStreamingCall,
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
  UntypedHandleCall,
} from '@grpc/grpc-js';
import type { Clock } from '@toolmesh/clock';
import { publicError, withErrorInfo } from '../error-details.ts';
import { sanitizedErrorHeader } from '../sanitized-error.ts';
import { type CallHandlerContext, callHandlerContext, type GrpcServerCall } from './call-handler-context.ts';
import { createUnaryInvoker } from './create-unary-invoker.ts';
import { grpcErrorResponse } from './grpc-error-response.ts';
import { UndecodableRequest } from './grpc-service-definition.ts';
import { metadataFromHeaders } from './metadata-from-headers.ts';

// The reason a call's signal aborts with once the call is over: one error made once. Without a
// reason, AbortController.abort builds a DOMException with a stack trace on every call.
const callOver = new ConnectError('the call is over', Code.Canceled);

/** Options of {@link createGrpcHandler}. */
export interface GrpcHandlerOptions {
  /** The server's interceptors, outermost first, as connect's router runs them. */
  interceptors: Interceptor[];
  /** Aborts every call's signal at the end of the server's grace period. */
  shutdownSignal: AbortSignal;
  /** Times each call's deadline. */
  clock: Clock;
}

// As connect-node's server answers it (through the listener's rewrite): the caller's
// mistake, without what the decoder said.
function undecodableStatus() {
  const error = withErrorInfo(publicError(Code.InvalidArgument, 'invalid request message'));
  error.metadata.set(sanitizedErrorHeader, '1');
  return grpcErrorResponse(error);
}

function sendHeader(call: GrpcServerCall, ctx: CallHandlerContext) {
  // Nothing set: grpc-js sends its own (empty) headers with the first message or the status.
  let any = false;
  ctx.responseHeader.forEach(() => {
    any = true;
  });
  if (any) call.sendMetadata(metadataFromHeaders(ctx.responseHeader));
}

// A stream's requests as connect's implementations read them: an undecodable one fails the
// read the way connect's parser does (the error boundary makes it INVALID_ARGUMENT), and the
// reading stops when the call ends, however it ends.
async function* requestsOf(call: Readable, signal: AbortSignal): AsyncGenerator<unknown> {
  const it = call.iterator({ destroyOnReturn: false });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const next = await Promise.race([it.next(), aborted]);
      if (next.done) return;
      if (next.value instanceof UndecodableRequest)
        throw new ConnectError(`parse binary: ${next.value.reason}`, Code.Internal);
      yield next.value;
    }
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

async function* single(message: unknown): AsyncGenerator<unknown> {
  yield message;
}

function drained(stream: Writable, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    // A cancelled call never drains (grpc-js drops its writes): the abort ends the wait.
    if (signal.aborted) return resolve();
    const done = () => {
      stream.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

// Writes the implementation's responses with backpressure, then the status: the handler's
// headers go out before the first message (or the status), as connect-node sends them.
async function respondWithStream(
  call: GrpcServerCall & Writable,
  ctx: CallHandlerContext,
  responses: AsyncIterable<unknown>,
): Promise<void> {
  const it = responses[Symbol.asyncIterator]();
  // A caller that went away: the implementation's loop ends (return) instead of waiting on.
  const stop = () => {
    it.return?.().catch(() => {});
  };
  ctx.signal.addEventListener('abort', stop, { once: true });
  let headerSent = false;
  try {
    for (;;) {
      const next = await it.next();
      if (!headerSent) {
        headerSent = true;
        sendHeader(call, ctx);
      }
      if (next.done) break;
      if (!call.write(next.value)) await drained(call, ctx.signal);
      if (ctx.signal.aborted) break;
    }
    ctx.signal.removeEventListener('abort', stop);
    (call.end as (metadata?: unknown) => void)(metadataFromHeaders(ctx.responseTrailer));
  } catch (error) {
    ctx.signal.removeEventListener('abort', stop);
    if (!headerSent) sendHeader(call, ctx);
    call.emit('error', grpcErrorResponse(error, ctx.responseTrailer));
  } finally {
    ctx.abort(callOver);
  }
}

/**
 * The grpc-js handler of one method: it builds the connect handler context and calls the
 * implementation through the same interceptors, in the same order (unary calls through a chain
 * built once per method, {@link createUnaryInvoker}; streams with connect's own
 * `transformInvokeImplementation`), then sends the response,
 * the handler's headers and trailers, or the error's status with its details.
 */
export function createGrpcHandler(spec: MethodImplSpec, options: GrpcHandlerOptions): UntypedHandleCall {
  const { interceptors, shutdownSignal, clock } = options;
  switch (spec.kind) {
    case 'unary': {
      const invoke = createUnaryInvoker(spec, interceptors);
      const handler: handleUnaryCall<unknown, unknown> = (call, callback) => {
        if (call.request instanceof UndecodableRequest) return callback(undecodableStatus());
        const ctx = callHandlerContext(call, spec, shutdownSignal, clock);
        invoke(ctx, call.request).then(
          (message) => {
            sendHeader(call, ctx);
            callback(null, message, metadataFromHeaders(ctx.responseTrailer));
            ctx.abort(callOver);
          },
          (error: unknown) => {
            sendHeader(call, ctx);
            callback(grpcErrorResponse(error, ctx.responseTrailer));
            ctx.abort(callOver);
          },
        );
      };
      return handler;
    }
    case 'server_streaming': {
      const handler: handleServerStreamingCall<unknown, unknown> = (call) => {
        if (call.request instanceof UndecodableRequest) {
          call.emit('error', undecodableStatus());
          return;
        }
        const ctx = callHandlerContext(call, spec, shutdownSignal, clock);
        const responses = transformInvokeImplementation(
          spec,
          ctx,
          interceptors,
        )(single(call.request) as never);
        void respondWithStream(call, ctx, responses);
      };
      return handler;
    }
    case 'bidi_streaming': {
      const handler: handleBidiStreamingCall<unknown, unknown> = (call) => {
        const ctx = callHandlerContext(call, spec, shutdownSignal, clock);
        const requests = requestsOf(call, ctx.signal);
        const responses = transformInvokeImplementation(spec, ctx, interceptors)(requests as never);
        void respondWithStream(call, ctx, responses);
      };
      return handler;
    }
    case 'client_streaming': {
      const handler: handleClientStreamingCall<unknown, unknown> = (call, callback) => {
        const ctx = callHandlerContext(call, spec, shutdownSignal, clock);
        const requests = requestsOf(call, ctx.signal);
        const responses = transformInvokeImplementation(spec, ctx, interceptors)(requests as never);
        void (async () => {
          let response: unknown;
          try {
            for await (const message of responses) response = message;
            sendHeader(call, ctx);
            callback(null, response, metadataFromHeaders(ctx.responseTrailer));
          } catch (error) {
            sendHeader(call, ctx);
            callback(grpcErrorResponse(error, ctx.responseTrailer));
          } finally {
            ctx.abort(callOver);
          }
        })();
      };
      return handler;
    }
  }
}
