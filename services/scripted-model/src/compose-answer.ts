import { type ConversationFacts, isRecord, type ToolOutcome } from './read-conversation.ts';

// Every sentence below is built from tool results of the current turn: the scripted model
// must never invent facts, since the checks compare its answers with the seeded data.

// Codes meaning "not yours or not there": the answer must not reveal which of the two it was.
const hiddenCodes = new Set(['NOT_FOUND', 'PERMISSION_DENIED']);
// Codes the confirmation gate uses when the user did not approve a write.
const declinedCodes = new Set(['DECLINED', 'REJECTED', 'CANCELLED', 'CANCELED', 'CONFIRMATION_DECLINED']);
const unconfirmedCodes = new Set([
  'NOT_CONFIRMED',
  'EXPIRED',
  'CONFIRMATION_EXPIRED',
  'CONFIRMATION_REQUIRED',
]);

/** The answer when the user has not named an order. */
export function askForOrderId(): string {
  return (
    'I can help with your orders: status, payment, shipping and delivery, stock of the items, ' +
    'invoices, and your support tickets. Please tell me your 12-digit order number.'
  );
}

/** The answer when looking the order up failed. */
export function describeOrderError(orderId: string, code: string): string {
  if (hiddenCodes.has(code)) return `I couldn't find order ${orderId} for your account.`;
  return (
    `Sorry, the order service is unavailable right now (${code}), so I couldn't look up order ${orderId}. ` +
    'Please try again in a moment.'
  );
}

/** The text sent along with the create_ticket call, so the confirmation has a reason. */
export function invoiceTicketIntro(orderId: string): string {
  return `Your invoice isn't ready yet, so I'd like to open an invoice ticket for order ${orderId}.`;
}

/** The answer to "list my tickets". */
export function describeTickets(outcome: ToolOutcome): string {
  if (!outcome.ok)
    return `Sorry, I couldn't list your tickets right now (${outcome.code}). Please try again later.`;
  const tickets = Array.isArray(outcome.value.tickets) ? outcome.value.tickets.filter(isRecord) : [];
  if (tickets.length === 0) return "You don't have any tickets.";
  const lines = tickets.map((ticket) => {
    const parts = [text(ticket.ticket_id) ?? 'ticket'];
    const category = text(ticket.category);
    const orderId = text(ticket.order_id);
    if (category || orderId) {
      parts.push(`${category ?? 'ticket'}${orderId ? ` for order ${orderId}` : ''}`);
    }
    const status = text(ticket.status);
    if (status) parts.push(`status ${humanize(status)}`);
    const created = text(ticket.created_at);
    if (created) parts.push(`created ${created}`);
    return `- ${parts.join(', ')}`;
  });
  const count = tickets.length === 1 ? 'one ticket' : `${tickets.length} tickets`;
  return [`You have ${count}:`, ...lines].join('\n');
}

/** The final answer about an order, from whatever the current turn gathered. */
export function composeOrderAnswer(orderId: string, facts: ConversationFacts): string {
  const order = facts.results.get('get_order_detail');
  if (!order)
    return `I haven't been able to look up order ${orderId} yet, so I can't tell you more about it.`;
  if (!order.ok) return describeOrderError(orderId, order.code);
  const detail = order.value;
  const lines: string[] = [];

  const summary: string[] = [];
  const status = text(detail.status);
  if (status) summary.push(`status ${humanize(status)}`);
  const pay = text(detail.pay_status);
  if (pay) summary.push(`payment ${humanize(pay)}`);
  lines.push(`Order ${text(detail.order_id) ?? orderId}${summary.length ? `: ${summary.join(', ')}` : ''}.`);

  const logisticsNo = text(detail.logistics_no);
  const node = text(detail.dispatch_node);
  if (logisticsNo) lines.push(`Logistics number ${logisticsNo}${node ? `, dispatched from ${node}` : ''}.`);
  else if (node) lines.push(`Dispatch node ${node}; no logistics number yet.`);
  else lines.push('No logistics number yet.');

  lines.push(...describeItems(detail.items, facts.results.get('get_inventory_snapshot')));
  const dispatch = describeDispatch(facts.results.get('get_dispatch_plan'));
  if (dispatch) lines.push(dispatch);
  const invoice = describeInvoice(detail.invoice_ready, facts);
  if (invoice) lines.push(invoice);
  return lines.join('\n');
}

function describeItems(rawItems: unknown, inventory: ToolOutcome | undefined): string[] {
  const items = Array.isArray(rawItems) ? rawItems.filter(isRecord) : [];
  if (items.length === 0) return [];
  const stock = new Map<string, Record<string, unknown>>();
  if (inventory?.ok && Array.isArray(inventory.value.items)) {
    for (const entry of inventory.value.items.filter(isRecord)) {
      const sku = text(entry.sku);
      if (sku) stock.set(sku, entry);
    }
  }
  const lines = ['Items:'];
  for (const item of items) {
    const sku = text(item.sku);
    const name = text(item.name);
    const label = name && sku ? `${name} (${sku})` : (name ?? sku ?? 'item');
    const quantity = count(item.quantity);
    let line = `- ${label}${quantity === undefined ? '' : `, quantity ${quantity}`}`;
    if (inventory?.ok) line += `: ${describeStock(sku ? stock.get(sku) : undefined)}`;
    lines.push(`${line}.`);
  }
  if (inventory && !inventory.ok) {
    lines.push(`Stock information is unavailable right now (${inventory.code}).`);
  }
  return lines;
}

function describeStock(entry: Record<string, unknown> | undefined): string {
  const available = count(entry?.available);
  if (available === undefined) return 'stock unknown';
  if (available > 0) return `in stock (${available} available)`;
  const restock = text(entry?.restock_date);
  return restock ? `out of stock, restock expected ${restock}` : 'out of stock';
}

function describeDispatch(plan: ToolOutcome | undefined): string | undefined {
  if (!plan) return undefined;
  if (!plan.ok) {
    if (plan.code === 'NOT_FOUND') return 'There is no dispatch plan for this order yet.';
    return `Dispatch information is unavailable right now (${plan.code}).`;
  }
  const parts: string[] = [];
  const carrier = text(plan.value.carrier);
  const node = text(plan.value.dispatch_node);
  if (carrier) parts.push(node ? `${carrier} from ${node}` : carrier);
  else if (node) parts.push(`from ${node}`);
  const status = text(plan.value.status);
  if (status) parts.push(`status ${humanize(status)}`);
  const eta = text(plan.value.estimated_delivery);
  if (eta) parts.push(`estimated delivery ${eta}`);
  return parts.length ? `Dispatch: ${parts.join(', ')}.` : undefined;
}

function describeInvoice(ready: unknown, facts: ConversationFacts): string | undefined {
  const ticket = facts.results.get('create_ticket');
  if (ticket?.ok) {
    const id = text(ticket.value.ticket_id);
    const status = text(ticket.value.status);
    const category = text(ticket.value.category) ?? 'invoice';
    const opened = `I opened ${category} ticket ${id ?? ''}`.trimEnd();
    return `Invoice: not ready yet; ${opened}${status ? ` (status ${humanize(status)})` : ''}.`;
  }
  if (ticket) {
    if (declinedCodes.has(ticket.code))
      return 'Invoice: not ready yet; you declined the ticket, so no ticket was created.';
    if (unconfirmedCodes.has(ticket.code)) {
      return 'Invoice: not ready yet; the ticket was not confirmed, so no ticket was created.';
    }
    return `Invoice: not ready yet; I couldn't open a ticket (${ticket.code}), please try again later.`;
  }
  if (ready === true) return 'Invoice: ready.';
  if (ready === false) return 'Invoice: not ready yet.';
  return undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim()) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

// "in_transit" reads better as "in transit"; the raw value stays recognizable.
function humanize(value: string): string {
  return value.replaceAll('_', ' ').toLowerCase();
}
