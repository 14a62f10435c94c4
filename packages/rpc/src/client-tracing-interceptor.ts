import type { Interceptor } from '@connectrpc/connect';
import {
  context,
  currentRequestId,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapSetter,
  trace,
  tracer,
} from '@toolmesh/telemetry';
import { grpcCodeName, grpcStatusCode } from './grpc-status.ts';
import { observeStream } from './observe-stream.ts';
import { isTracedService } from './traced-services.ts';

const headerSetter: TextMapSetter<Headers> = { set: (headers, key, value) => headers.set(key, value) };

function finish(span: Span | undefined, error?: unknown) {
  if (!span) return;
  const code = grpcCodeName(error);
  span.setAttribute('rpc.grpc.status_code', grpcStatusCode(error));
  if (code !== 'OK') {
    span.setAttribute('error.type', code);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * Passes the active trace (traceparent) and request id (x-request-id) on with every call,
 * and wraps the call in a CLIENT span when it is made inside a recorded one. Calls made
 * outside any (a registry refresh, a probe) start no trace of their own.
 */
export function createClientTracingInterceptor(address: string): Interceptor {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  return (next) => async (req) => {
    const parent = context.active();
    let ctx = parent;
    let span: Span | undefined;
    if (trace.getSpan(parent)?.isRecording() && isTracedService(req.service.typeName)) {
      span = tracer.startSpan(
        `${req.service.typeName}/${req.method.name}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'rpc.system': 'grpc',
            'rpc.service': req.service.typeName,
            'rpc.method': req.method.name,
            'server.address': host,
            'server.port': port,
          },
        },
        parent,
      );
      ctx = trace.setSpan(parent, span);
    }
    propagation.inject(ctx, req.header, headerSetter);
    const requestId = currentRequestId(parent);
    if (requestId && !req.header.has('x-request-id')) req.header.set('x-request-id', requestId);
    try {
      const res = await context.with(ctx, () => next(req));
      if (!res.stream) {
        finish(span);
        return res;
      }
      return {
        ...res,
        message: observeStream(res.message, { onEnd: (error) => finish(span, error), signal: req.signal }),
      };
    } catch (error) {
      finish(span, error);
      throw error;
    }
  };
}
