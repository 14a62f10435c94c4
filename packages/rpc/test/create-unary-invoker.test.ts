import { create } from '@bufbuild/protobuf';
import type { HandlerContext, Interceptor } from '@connectrpc/connect';
import { Metadata } from '@grpc/grpc-js';
import { createManualClock } from '@toolmesh/clock';
import { InvokeToolRequestSchema, InvokeToolResponseSchema, ToolService } from '@toolmesh/proto';
import { callHandlerContext, type GrpcServerCall } from '../src/grpc-js-server/call-handler-context.ts';
import { createUnaryInvoker } from '../src/grpc-js-server/create-unary-invoker.ts';

// Unary calls on the grpc-js server run through an interceptor chain built once per method;
// what interceptors and the implementation see must stay what connect's per-call invocation gave.

const method = ToolService.method.invokeTool;
const clock = createManualClock();
const shutdown = new AbortController().signal;

function grpcCall(headers: Record<string, string>): GrpcServerCall {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return {
    metadata,
    getDeadline: () => Number.POSITIVE_INFINITY,
    getPath: () => '/toolmesh.v1.ToolService/InvokeTool',
    sendMetadata: () => {},
    cancelled: false,
    once: () => undefined,
  } as unknown as GrpcServerCall;
}

function implementation(seen: HandlerContext[]) {
  return {
    kind: 'unary' as const,
    method,
    impl: async (req: unknown, ctx: HandlerContext) => {
      seen.push(ctx);
      ctx.responseTrailer.set('x-tool', (req as { toolName: string }).toolName);
      return { outcome: { case: 'resultJson' as const, value: '{}' } };
    },
  };
}

const input = (toolName: string) => create(InvokeToolRequestSchema, { toolName, toolCallId: 'c1' });

test('the chain is built once per method, runs outermost first per call, and answers a full message', async () => {
  let built = 0;
  const order: string[] = [];
  const named =
    (name: string): Interceptor =>
    (next) => {
      built++;
      return async (req) => {
        order.push(name);
        return next(req);
      };
    };
  const seen: HandlerContext[] = [];
  const invoke = createUnaryInvoker(implementation(seen), [named('outer'), named('inner')]);
  for (const tool of ['a', 'b', 'c']) {
    const ctx = callHandlerContext(grpcCall({}), implementation([]), shutdown, clock);
    const answer = await invoke(ctx, input(tool));
    expect(answer).toEqual(
      create(InvokeToolResponseSchema, { outcome: { case: 'resultJson', value: '{}' } }),
    );
    // The implementation got the call's own context, and its trailer is the call's.
    expect(seen.at(-1)).toBe(ctx);
    expect(ctx.responseTrailer.get('x-tool')).toBe(tool);
  }
  expect(built).toBe(2);
  expect(order).toEqual(['outer', 'inner', 'outer', 'inner', 'outer', 'inner']);
});

test('a request an interceptor replaced reaches the implementation; a response it replaced reaches the call', async () => {
  const rewrite: Interceptor = (next) => async (req) => {
    const header = new Headers(req.header);
    header.set('x-added', 'by interceptor');
    const res = await next({ ...req, header });
    const replaced = new Headers({ 'x-answer': 'replaced' });
    return { ...res, header: replaced, trailer: new Headers({ 'x-trailer': 'replaced' }) };
  };
  const seen: HandlerContext[] = [];
  const invoke = createUnaryInvoker(implementation(seen), [rewrite]);
  const ctx = callHandlerContext(grpcCall({ 'x-asked': 'caller' }), implementation([]), shutdown, clock);
  ctx.responseHeader.set('x-before', 'dropped');
  await invoke(ctx, input('t'));
  const handlerCtx = seen[0];
  expect(handlerCtx).not.toBe(ctx);
  expect(handlerCtx?.requestHeader.get('x-added')).toBe('by interceptor');
  expect(handlerCtx?.requestHeader.get('x-asked')).toBe('caller');
  expect(handlerCtx?.signal).toBe(ctx.signal);
  expect(handlerCtx?.values).toBe(ctx.values);
  // As connect copies them: the response's headers and trailers replace the call's.
  expect([...ctx.responseHeader]).toEqual([['x-answer', 'replaced']]);
  expect([...ctx.responseTrailer]).toEqual([['x-trailer', 'replaced']]);
});

test('an implementation that throws rejects the call with its error', async () => {
  const failing = {
    kind: 'unary' as const,
    method,
    impl: async () => {
      throw new Error('boom');
    },
  };
  const invoke = createUnaryInvoker(failing, []);
  const ctx = callHandlerContext(grpcCall({}), failing, shutdown, clock);
  await expect(invoke(ctx, input('t'))).rejects.toThrow('boom');
});
