import { randomUUID } from 'node:crypto';
import type { Interceptor } from '@connectrpc/connect';
import {
  acceptRequestId,
  context,
  contextWithRequestId,
  propagation,
  ROOT_CONTEXT,
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

/** Options of {@link createServerTracingInterceptor}. */
export interface ServerTracingOptions {
  /**
   * Whether callers are part of the mesh (default true): their traceparent is the parent of
   * the server span and any printable x-request-id of up to 128 characters is kept. False
   * for a public edge: the call starts a new trace that only links to the caller's span
   * (the caller cannot choose our trace ids or sampling), and the caller's x-request-id
   * is kept only if it matches {@link edgeRequestIdPattern}, else replaced by a new one.
   */
  trustCallerContext?: boolean;
}

/**
 * The request ids a public edge takes from a caller: short, and made of characters that
 * need no escaping in logs, audit records, metrics or headers.
 */
export const edgeRequestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The outermost interceptor of every server: gives the call its request id (the caller's
 * x-request-id, or a new one, echoed in the response header), continues the caller's
 * trace from traceparent (or, untrusted, links to it), and runs the handler inside a
 * SERVER span named `package.Service/Method`. Request id and span are in the active
 * context for the whole call, streams included, so logs and outgoing calls carry them.
 */
export function createServerTracingInterceptor(options: ServerTracingOptions = {}): Interceptor {
  const trusted = options.trustCallerContext ?? true;
  return (next) => async (req) => {
    const offered = req.header.get('x-request-id');
    const requestId =
      (trusted
        ? acceptRequestId(offered)
        : offered && edgeRequestIdPattern.test(offered)
          ? offered
          : undefined) ?? randomUUID();
    req.contextValues.set(requestIdKey, requestId);
    const callerContext = propagation.extract(
      trusted ? context.active() : ROOT_CONTEXT,
      req.header,
      headerGetter,
    );
    // Untrusted: nothing the caller sent (trace, baggage) enters our context.
    let ctx = contextWithRequestId(trusted ? callerContext : context.active(), requestId);
    let span: Span | undefined;
    if (isTracedService(req.service.typeName)) {
      const callerSpan = trusted ? undefined : trace.getSpanContext(callerContext);
      const links =
        callerSpan && trace.isSpanContextValid(callerSpan)
          ? [{ context: callerSpan, attributes: { 'toolmesh.link': 'caller' } }]
          : [];
      span = tracer.startSpan(
        `${req.service.typeName}/${req.method.name}`,
        {
          kind: SpanKind.SERVER,
          // A new root at the edge: whatever span the process's context holds is not our parent.
          ...(trusted ? {} : { root: true }),
          links,
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
