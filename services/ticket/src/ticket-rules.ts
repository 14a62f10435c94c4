import { toolErrors } from '@toolmesh/tool-sdk';
import type { NewTicket } from './create-ticket-once.ts';
import type { OrderDetail } from './order-lookup.ts';

// Orders in fulfilment: a delivery problem can only be about one of these.
const inFulfilment = new Set(['paid', 'shipped']);
const closedForRefund = new Set(['refunded', 'cancelled']);

/**
 * The business rules a ticket must meet beyond its schema, given the caller's own
 * order; throws FAILED_PRECONDITION naming the rule it breaks.
 */
export function assertTicketAllowed(order: OrderDetail, ticket: NewTicket): void {
  const { order_id: id, status } = order;
  switch (ticket.category) {
    case 'invoice':
      if (order.pay_status !== 'paid') throw toolErrors.failedPrecondition('an invoice needs a paid order');
      if (order.invoice_ready) {
        throw toolErrors.failedPrecondition(
          `the invoice for order ${id} is already available; no ticket needed`,
        );
      }
      return;
    case 'refund':
      if (closedForRefund.has(status)) {
        throw toolErrors.failedPrecondition(`order ${id} is ${status}; it cannot be refunded`);
      }
      return;
    case 'delivery':
      if (!inFulfilment.has(status)) {
        throw toolErrors.failedPrecondition(
          `order ${id} is ${status}; a delivery ticket needs an order that is paid or shipped`,
        );
      }
      return;
    default:
      return;
  }
}
