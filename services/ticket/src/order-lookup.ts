import { Code, ConnectError } from '@connectrpc/connect';
import { ToolService } from '@toolmesh/proto';
import { createGrpcClient, credentialHeaders, type TlsSettings, toolErrorName } from '@toolmesh/rpc';
import type { Registry } from '@toolmesh/telemetry';
import { type ToolContext, ToolFailure } from '@toolmesh/tool-sdk';
import { z } from 'zod';

/** An order as get_order_detail answers it: the fields the ticket rules read. */
export interface OrderDetail {
  order_id: string;
  status: string;
  pay_status: string;
  invoice_ready: boolean;
}

/** What the lookup takes from the ticket call it serves. */
export type OrderLookupContext = Pick<ToolContext, 'toolCallId' | 'signal' | 'logger' | 'credentialFor'> & {
  /** Milliseconds left of the ticket call; the lookup's deadline never outlives it. */
  remainingMs?: () => number;
};

/** Reads orders from the order service as the end user of the ticket call. */
export interface OrderLookup {
  /**
   * The caller's order. Throws ToolFailure NOT_FOUND when it is missing or someone
   * else's, PERMISSION_DENIED when the caller may not read orders, and a retryable
   * UNAVAILABLE when the order service does not answer in time or answers nonsense.
   */
  getOrder(orderId: string, ctx: OrderLookupContext): Promise<OrderDetail>;
}

/** A ToolService client, as createGrpcClient builds it. */
export type ToolServiceClient = ReturnType<typeof createGrpcClient<typeof ToolService>>;

/** Options of {@link createOrderLookup}: the order service's host:port, or a client on it. */
export type OrderLookupOptions = ({ address: string; tls?: TlsSettings } | { client: ToolServiceClient }) & {
  /** Upper bound of one lookup; default 3 s, inside the 5 s of create_ticket. */
  timeoutMs?: number;
  /** The process's metrics registry (grpc_client_* series of the lookups). */
  metrics?: Registry;
};

const orderDetail = z.object({
  order_id: z.string(),
  status: z.string(),
  pay_status: z.string(),
  invoice_ready: z.boolean(),
});

function parseOrder(json: string): OrderDetail | undefined {
  try {
    return orderDetail.safeParse(JSON.parse(json)).data;
  } catch {
    return undefined;
  }
}

/** The tool create_ticket reads orders with; it declares it in its delegated_tools. */
export const orderDetailTool = 'get_order_detail';

const unavailable = () => new ToolFailure('UNAVAILABLE', 'order service unavailable, retry later', true);

/** Builds an {@link OrderLookup} calling the order service's get_order_detail. */
export function createOrderLookup(options: OrderLookupOptions): OrderLookup {
  const client =
    'client' in options
      ? options.client
      : createGrpcClient(ToolService, {
          address: options.address,
          tls: options.tls,
          metrics: options.metrics,
        });
  const timeoutMs = options.timeoutMs ?? 3_000;

  return {
    async getOrder(orderId, ctx) {
      // Only the orchestrator makes credentials: without its delegation the order cannot be read as this user.
      const credential = ctx.credentialFor(orderDetailTool);
      if (!credential) {
        throw new ToolFailure(
          'PERMISSION_DENIED',
          'the order cannot be checked: no delegated credential to read it',
        );
      }
      let res: Awaited<ReturnType<ToolServiceClient['invokeTool']>>;
      try {
        res = await client.invokeTool(
          {
            toolCallId: `${ctx.toolCallId}:order-check`,
            toolName: orderDetailTool,
            argumentsJson: JSON.stringify({ order_id: orderId }),
          },
          // The ticket call's signal carries its cancellation; the deadline sent along is
          // the shorter of ours and what is left of it (at least 1 ms: 0 means none).
          // The same end user, by the credential the orchestrator delegated for this ticket call:
          // the order service decides what this user may see.
          {
            headers: credentialHeaders(credential),
            signal: ctx.signal,
            timeoutMs: Math.max(1, Math.min(timeoutMs, ctx.remainingMs?.() ?? timeoutMs)),
          },
        );
      } catch (error) {
        ctx.logger.warn({ err: error, order_id: orderId }, 'order service call failed');
        // A refused delegation will be refused again: not a reason to retry.
        if (error instanceof ConnectError && error.code === Code.Unauthenticated) {
          throw new ToolFailure(
            'PERMISSION_DENIED',
            'the order service did not accept the delegated credential',
          );
        }
        throw unavailable();
      }

      const outcome = res.outcome;
      if (outcome.case === 'resultJson') {
        const order = parseOrder(outcome.value);
        if (order?.order_id === orderId) return order;
        ctx.logger.error({ order_id: orderId }, 'order service answered an unexpected result');
        throw unavailable();
      }
      if (outcome.case !== 'error') {
        ctx.logger.error({ order_id: orderId }, 'order service answered no outcome');
        throw unavailable();
      }
      const code = toolErrorName(outcome.value.code);
      // One message for missing and foreign orders alike: no existence leak.
      if (code === 'NOT_FOUND') throw new ToolFailure('NOT_FOUND', `order ${orderId} not found`);
      if (code === 'PERMISSION_DENIED') {
        throw new ToolFailure('PERMISSION_DENIED', 'checking the order needs permission order:read');
      }
      ctx.logger.warn(
        { order_id: orderId, code, message: outcome.value.message },
        'order service could not check the order',
      );
      throw unavailable();
    },
  };
}
