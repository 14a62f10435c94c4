// The demo world's answers (DESIGN.md), held in memory for the in-process agent.

/** get_order_detail of order 202604100018. */
export const orderDetail = {
  order_id: '202604100018',
  status: 'shipped',
  pay_status: 'paid',
  logistics_no: 'SF1234567890',
  dispatch_node: 'Shanghai-DC-03',
  invoice_ready: false,
  created_at: '2026-04-10T08:12:00.000Z',
  items: [
    { sku: 'SKU-1001', name: 'Wireless Mouse', quantity: 1 },
    { sku: 'SKU-2002', name: 'USB-C Dock', quantity: 2 },
  ],
};

/** Stock of the demo SKUs. */
export const stock: Record<string, { available: number; restock_date: string | null }> = {
  'SKU-1001': { available: 12, restock_date: null },
  'SKU-2002': { available: 0, restock_date: '2026-12-05' },
};

/** get_dispatch_plan of order 202604100018. */
export const dispatchPlan = {
  order_id: '202604100018',
  dispatch_node: 'Shanghai-DC-03',
  carrier: 'SF Express',
  status: 'in_transit',
  logistics_no: 'SF1234567890',
  estimated_delivery: '2026-04-13',
};
