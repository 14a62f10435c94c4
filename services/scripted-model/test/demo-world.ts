// Synthetic tool results shaped like the demo world's services answer them.

export const orderId = '202604100018';

export const orderDetail = {
  order_id: orderId,
  status: 'shipped',
  pay_status: 'paid',
  logistics_no: 'SF1234567890',
  dispatch_node: 'Shanghai-DC-03',
  invoice_ready: false,
  created_at: '2026-04-10T08:12:00Z',
  items: [
    { sku: 'SKU-1001', name: 'Wireless Mouse', quantity: 1 },
    { sku: 'SKU-2002', name: 'USB-C Dock', quantity: 2 },
  ],
};

export const inventorySnapshot = {
  items: [
    { sku: 'SKU-1001', available: 12, restock_date: null },
    { sku: 'SKU-2002', available: 0, restock_date: '2026-12-05' },
  ],
};

export const dispatchPlan = {
  order_id: orderId,
  dispatch_node: 'Shanghai-DC-03',
  carrier: 'SF Express',
  status: 'in_transit',
  logistics_no: 'SF1234567890',
  estimated_delivery: '2026-04-13',
};

export const createdTicket = {
  ticket_id: 'T-0001',
  order_id: orderId,
  category: 'invoice',
  status: 'open',
  created_at: '2026-04-12T09:00:00Z',
};

export const ticketList = {
  tickets: [createdTicket, { ...createdTicket, ticket_id: 'T-0002', category: 'delivery', status: 'closed' }],
};

/** A tool error as the orchestrator feeds it back. */
export function toolError(code: string, message = 'failed', retryable = false) {
  return { error: { code, message, retryable } };
}

/** The demo world's results by tool name. */
export const demoResults: Record<string, unknown> = {
  get_order_detail: orderDetail,
  get_inventory_snapshot: inventorySnapshot,
  get_dispatch_plan: dispatchPlan,
  create_ticket: createdTicket,
  list_tickets: ticketList,
};

/** The demo world's tools in OpenAI's `tools` shape. */
export const demoTools = [
  tool('get_order_detail', 'Look up an order', {
    order_id: { type: 'string' },
    include_items: { type: 'boolean' },
  }),
  tool('get_inventory_snapshot', 'Stock of SKUs', { skus: { type: 'array', items: { type: 'string' } } }),
  tool('get_dispatch_plan', 'Dispatch plan of an order', { order_id: { type: 'string' } }),
  tool('create_ticket', 'Open a support ticket', {
    order_id: { type: 'string' },
    category: { type: 'string' },
    description: { type: 'string' },
  }),
  tool('list_tickets', "List the user's tickets", {}),
];

function tool(name: string, description: string, properties: Record<string, unknown>) {
  return {
    type: 'function' as const,
    function: { name, description, parameters: { type: 'object', properties } },
  };
}
