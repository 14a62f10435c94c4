import type { DescService } from '@bufbuild/protobuf';
import type { Client, HandlerContext } from '@connectrpc/connect';
import { type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import type { ForwardAsCaller } from './forward-as-caller.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

/** Options of {@link forwardService}. */
export interface ForwardServiceOptions {
  /** Deadline of a call whose caller set none; default 10 s. */
  defaultTimeoutMs?: number;
  /**
   * Server streams: the longest they may stay open (a caller's shorter deadline wins), so a
   * watch is bounded by the server and never by a client default; absent: as unary calls.
   */
  maxStreamMs?: number;
}

type Forwarded = (req: unknown, options: object) => unknown;

/**
 * The gateway's side of one public service: every unary and server-streaming method goes to
 * the orchestrator's same method, the message unchanged, as the caller the gateway verified
 * (a credential it signs), with the caller's deadline and cancellation. The orchestrator's
 * answers keep their code, message and details; an orchestrator that does not answer is
 * DEPENDENCY_UNAVAILABLE.
 */
export function forwardService<S extends DescService>(
  service: S,
  client: Client<S>,
  forwardAsCaller: ForwardAsCaller,
  options: ForwardServiceOptions = {},
): ServiceRegistration {
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
  const { maxStreamMs } = options;
  const implementation: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = (client as Record<string, Forwarded>)[method.localName] as Forwarded;
    if (method.methodKind === 'unary') {
      implementation[method.localName] = async (req: unknown, ctx: HandlerContext) => {
        const callOptions = {
          ...(await forwardAsCaller(ctx)),
          timeoutMs: ctx.timeoutMs() ?? defaultTimeoutMs,
        };
        return (call(req, callOptions) as Promise<unknown>).catch((e: unknown) =>
          relayOrchestratorError(e, ctx),
        );
      };
    } else if (method.methodKind === 'server_streaming') {
      implementation[method.localName] = (req: unknown, ctx: HandlerContext) => {
        const timeoutMs =
          maxStreamMs === undefined
            ? (ctx.timeoutMs() ?? defaultTimeoutMs)
            : Math.min(ctx.timeoutMs() ?? maxStreamMs, maxStreamMs);
        return new ForwardedStream(ctx, async () =>
          call(req, { ...(await forwardAsCaller(ctx)), timeoutMs }),
        );
      };
    }
  }
  return serviceRegistration(service, implementation as Parameters<typeof serviceRegistration<S>>[1]);
}

/**
 * A forwarded server stream: the orchestrator's messages as they come, its failure relayed as
 * the gateway's. One object with shared methods rather than an async generator, as every open
 * ChatStream holds one for its whole life (an async generator keeps its frame, a promise and
 * its queue besides).
 */
class ForwardedStream implements AsyncIterable<unknown>, AsyncIterator<unknown> {
  private readonly ctx: HandlerContext;
  private start: (() => Promise<unknown>) | undefined;
  private it: AsyncIterator<unknown> | undefined;

  constructor(ctx: HandlerContext, start: () => Promise<unknown>) {
    this.ctx = ctx;
    this.start = start;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async next(): Promise<IteratorResult<unknown>> {
    try {
      if (!this.it) {
        const start = this.start;
        // Returned before it started: nothing was forwarded, nothing comes.
        if (!start) return { done: true, value: undefined };
        this.start = undefined;
        this.it = ((await start()) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      }
      return await this.it.next();
    } catch (error) {
      return relayOrchestratorError(error, this.ctx);
    }
  }

  // The caller went away: the forwarded call ends with the handler's signal.
  async return(value?: unknown): Promise<IteratorResult<unknown>> {
    this.start = undefined;
    return (await this.it?.return?.(value)) ?? { done: true, value: undefined };
  }
}
