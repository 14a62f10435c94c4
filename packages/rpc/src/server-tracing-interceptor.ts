import { randomUUID } from 'node:crypto';
import type { Interceptor } from '@connectrpc/connect';
import {
  acceptRequestId,
  context,
  contextWithRequestId,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
  tracer,
} from '@toolmesh/telemetry';
import { grpcCodeName, grpcStatusCode } from './grpc-status.ts';
import { observeStream } from './observe-stream.ts';
import { requestIdKey } from './request-id-key.ts';
import { isTracedService } from './traced-services.ts';

/** Reads W3C trace context (traceparent, tracestate) from gRPC metadata. */
export const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

// Codes that are the server's fault, per the OpenTelemetry RPC conventions; the rest
// (NotFound, InvalidArgument, …) are the caller's and leave a server span unset.
const serverErrors = new Set([
  'Unknown',
  'DeadlineExceeded',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
]);

function finish(span: Span | undefined, error?: unknown) {
  if (!span) return;
  const code = grpcCodeName(error);
  span.setAttribute('rpc.grpc.status_code', grpcStatusCode(error));
  if (serverErrors.has(code)) {
    // The code only: a message may hold internals or user data.
    span.setAttribute('error.type', code);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * The outermost interceptor of every server: gives the call its request id (the caller's
 * x-request-id, or a new one, echoed in the response header), continues the caller's
 * trace from traceparent, and runs the handler inside a SERVER span named
 * `package.Service/Method`. Request id and span are in the active context for the whole
 * call, streams included, so logs and outgoing calls carry them.
 */
export function createServerTracingInterceptor(): Interceptor {
  return (next) => async (req) => {
    const requestId = acceptRequestId(req.header.get('x-request-id')) ?? randomUUID();
    req.contextValues.set(requestIdKey, requestId);
    let ctx = contextWithRequestId(
      propagation.extract(context.active(), req.header, headerGetter),
      requestId,
    );
    let span: Span | undefined;
    if (isTracedService(req.service.typeName)) {
      span = tracer.startSpan(
        `${req.service.typeName}/${req.method.name}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'rpc.system': 'grpc',
            'rpc.service': req.service.typeName,
            'rpc.method': req.method.name,
          },
        },
        ctx,
      );
      ctx = trace.setSpan(ctx, span);
    }
    try {
      const res = await context.with(ctx, () => next(req));
      res.header.set('x-request-id', requestId);
      if (!res.stream) {
        finish(span);
        return res;
      }
      return {
        ...res,
        message: observeStream(res.message, {
          context: ctx,
          onEnd: (error) => finish(span, error),
          signal: req.signal,
        }),
      };
    } catch (error) {
      finish(span, error);
      throw error;
    }
  };
}
