import { create } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from '@connectrpc/connect';
import type { CallHandlerContext } from './call-handler-context.ts';

type UnarySpec = Extract<MethodImplSpec, { kind: 'unary' }>;
type Next = ReturnType<Interceptor>;

// The chain is built once per method, so its innermost step finds the call it runs for (its
// handler context, with the response headers) in the request's context values, which every
// interceptor passes on.
const callKey = createContextKey<CallHandlerContext | undefined>(undefined, {
  description: 'the grpc-js call a unary request belongs to',
});

function copyHeaders(from: Headers, to: Headers) {
  if (from === to) return;
  for (const key of [...to.keys()]) to.delete(key);
  for (const [key, value] of from) to.set(key, value);
}

// The context the implementation gets: the call's own, unless an interceptor passed on a request
// with other headers, signal, context values or service (then as connect's mergeRequest makes it).
function contextFor(call: CallHandlerContext, req: UnaryRequest): HandlerContext {
  if (
    req.header === call.requestHeader &&
    req.signal === call.signal &&
    req.contextValues === call.values &&
    req.service === call.service
  ) {
    return call;
  }
  return {
    ...call,
    service: req.service,
    requestHeader: req.header,
    signal: req.signal,
    values: req.contextValues,
  };
}

/**
 * Runs unary calls of one method through the server's interceptors, as connect's
 * `invokeUnaryImplementation` does (same requests and responses seen by each interceptor, the
 * same context for the implementation, the response's headers and trailers into the call's),
 * with the interceptor chain built once instead of per call, and the implementation's context
 * not copied (nor its headers materialized) when no interceptor changed the request.
 */
export function createUnaryInvoker(
  spec: UnarySpec,
  interceptors: readonly Interceptor[],
): (call: CallHandlerContext, input: unknown) => Promise<unknown> {
  const { method } = spec;
  const service = method.parent;
  const implementation = async (req: UnaryRequest): Promise<UnaryResponse> => {
    const call = req.contextValues.get(callKey);
    if (!call) throw new ConnectError('unary request without its call', Code.Internal);
    const output = await spec.impl(req.message as never, contextFor(call, req));
    return {
      stream: false,
      message: create(method.output, output),
      method,
      service,
      header: call.responseHeader,
      trailer: call.responseTrailer,
    };
  };
  const chain = interceptors.reduceRight<Next>(
    (next, interceptor) => interceptor(next),
    implementation as Next,
  );
  return async (call, input) => {
    call.values.set(callKey, call);
    const res = (await chain({
      stream: false,
      message: input as never,
      method,
      service,
      requestMethod: call.requestMethod,
      url: call.url,
      signal: call.signal,
      header: call.requestHeader,
      contextValues: call.values,
    })) as UnaryResponse;
    copyHeaders(res.header, call.responseHeader);
    copyHeaders(res.trailer, call.responseTrailer);
    return res.message;
  };
}
