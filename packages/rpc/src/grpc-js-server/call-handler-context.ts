import { Code, ConnectError, createHandlerContext, type MethodImplSpec } from '@connectrpc/connect';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { Clock } from '@toolmesh/clock';
import { metadataPairs } from '../grpc-js/metadata-pairs.ts';

/** What every kind of grpc-js server call has (grpc-js does not export its own name for it). */
export type GrpcServerCall = Pick<
  ServerUnaryCall<unknown, unknown>,
  'metadata' | 'getDeadline' | 'getPath' | 'sendMetadata' | 'cancelled'
> & { once(event: 'cancelled', listener: () => void): unknown };

const deadlineSlackMs = 100;

/** A connect handler context with the means to end it, as connect's own handlers hold it. */
export type CallHandlerContext = ReturnType<typeof createHandlerContext>;

// grpc-js gives the deadline as a wall-clock instant (Infinity: none); from here on it is a
// span on `clock`. Passed past it, the context aborts at once, as connect's own does.
function withDeadline(ctx: CallHandlerContext, deadlineMs: number, clock: Clock): CallHandlerContext {
  if (!Number.isFinite(deadlineMs)) return ctx;
  const remainingMs = deadlineMs - Date.now();
  const dueAt = clock.now() + remainingMs;
  const timeoutMs = () => dueAt - clock.now();
  const timedOut = () => new ConnectError('the operation timed out', Code.DeadlineExceeded);
  if (remainingMs <= 0) {
    ctx.abort(timedOut());
    return { ...ctx, timeoutMs };
  }
  const end = ctx.abort;
  const timer = clock.setTimeout(() => end(timedOut()), remainingMs);
  return {
    ...ctx,
    timeoutMs,
    abort: (reason) => {
      timer.cancel();
      end(reason);
    },
  };
}

/**
 * The connect `HandlerContext` of a grpc-js call, made by connect's own `createHandlerContext`:
 * request headers from the metadata, the remaining time from the caller's deadline (its signal
 * aborts with DEADLINE_EXCEEDED when it passes), and a signal that also aborts when the caller
 * cancels (CANCELED), when the server's grace period ends (`shutdownSignal`) and when the call
 * is over (whoever ends the call calls `abort()`).
 *
 * The deadline runs on the server's clock rather than connect's own timer, so a test holds a
 * call open past its deadline by advancing a manual clock instead of racing a real one.
 */
export function callHandlerContext(
  call: GrpcServerCall,
  spec: MethodImplSpec,
  shutdownSignal: AbortSignal,
  clock: Clock,
): CallHandlerContext {
  const deadline = call.getDeadline();
  const ctx = withDeadline(
    createHandlerContext({
      service: spec.method.parent,
      method: spec.method,
      protocolName: 'grpc',
      requestMethod: 'POST',
      url: call.getPath(),
      shutdownSignal,
      requestHeader: metadataPairs(call.metadata),
    }),
    typeof deadline === 'number' ? deadline : deadline.getTime(),
    clock,
  );
  const onCancel = () => {
    if (ctx.signal.aborted) return;
    // grpc-js ends a call whose deadline passed as cancelled, and its timer may run a little
    // before the context's own: that close to the deadline, the context's (still pending)
    // timer aborts the call, as DEADLINE_EXCEEDED.
    const remaining = ctx.timeoutMs();
    if (remaining !== undefined && remaining <= deadlineSlackMs) return;
    ctx.abort(new ConnectError('the caller canceled the call', Code.Canceled));
  };
  // grpc-js also tells of every call's end as cancelled, by which time the context is aborted.
  call.once('cancelled', onCancel);
  return ctx;
}
