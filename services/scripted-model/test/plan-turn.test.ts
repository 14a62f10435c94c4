import { type ChatMessage, type PlannedTurn, type PlanTurnInput, planTurn } from '../src/index.ts';
import {
  createdTicket,
  demoResults,
  dispatchPlan,
  inventorySnapshot,
  orderDetail,
  orderId,
  ticketList,
  toolError,
} from './demo-world.ts';

const allTools = [
  'get_order_detail',
  'get_inventory_snapshot',
  'get_dispatch_plan',
  'create_ticket',
  'list_tickets',
];

const user = (content: string): ChatMessage => ({ role: 'user', content });

function assistant(turn: PlannedTurn): ChatMessage {
  return {
    role: 'assistant',
    content: turn.content,
    tool_calls: turn.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    })),
  };
}

/** Plans, answers every call from `results`, and repeats until the model answers with text. */
function converse(
  messages: ChatMessage[],
  results: Record<string, unknown> = demoResults,
  options: Omit<PlanTurnInput, 'messages' | 'tools'> & { tools?: string[] } = {},
): { turns: PlannedTurn[]; messages: ChatMessage[] } {
  const turns: PlannedTurn[] = [];
  for (let i = 0; i < 10; i++) {
    const turn = planTurn({ tools: allTools, ...options, messages });
    turns.push(turn);
    if (turn.toolCalls.length === 0)
      return { turns, messages: [...messages, { role: 'assistant', content: turn.content }] };
    messages = [...messages, assistant(turn)];
    for (const call of turn.toolCalls) {
      messages.push({
        role: 'tool',
        tool_call_id: call.id,
        content: JSON.stringify(results[call.name] ?? {}),
      });
    }
  }
  throw new Error('the conversation did not end');
}

const callsOf = (turns: PlannedTurn[]) => turns.map((t) => t.toolCalls.map((c) => c.name));
const args = (turn: PlannedTurn | undefined, index = 0) =>
  JSON.parse(turn?.toolCalls[index]?.arguments ?? 'null');

describe('step 1: listing tickets', () => {
  it('calls list_tickets, then lists what it returned', () => {
    const { turns } = converse([user('Please list my tickets')]);
    expect(callsOf(turns)).toEqual([['list_tickets'], []]);
    expect(args(turns[0])).toEqual({});
    const text = turns[1]?.content ?? '';
    expect(text).toContain('2 tickets');
    expect(text).toContain('T-0001');
    expect(text).toContain('T-0002');
    expect(text).toContain(`invoice for order ${orderId}`);
    expect(turns[1]?.finishReason).toBe('stop');
  });

  it('says so when there are none, or when listing failed', () => {
    expect(converse([user('show my tickets')], { list_tickets: { tickets: [] } }).turns[1]?.content).toBe(
      "You don't have any tickets.",
    );
    const failed = converse([user('show my tickets')], { list_tickets: toolError('UNAVAILABLE') }).turns[1];
    expect(failed?.content).toContain("couldn't list your tickets");
    expect(failed?.content).toContain('UNAVAILABLE');
  });

  it('does not call list_tickets when it is not offered', () => {
    const turn = planTurn({ messages: [user('list my tickets')], tools: ['get_order_detail'] });
    expect(turn.toolCalls).toEqual([]);
    expect(turn.content).toContain('12-digit order number');
  });
});

describe('step 2: no order id', () => {
  it('asks for the 12-digit order number and says what it can do', () => {
    const turn = planTurn({ messages: [user('Where is my parcel?')], tools: allTools });
    expect(turn).toEqual({
      content: expect.stringContaining('12-digit order number'),
      toolCalls: [],
      finishReason: 'stop',
    });
    expect(turn.content).toMatch(/status/);
    expect(turn.content).toMatch(/invoice/);
  });

  it('ignores numbers that are not 12 digits long', () => {
    const turn = planTurn({ messages: [user('order 12345 or 2026041000189')], tools: allTools });
    expect(turn.toolCalls).toEqual([]);
  });
});

describe('step 3: looking the order up', () => {
  it('calls get_order_detail with items', () => {
    const turn = planTurn({ messages: [user(`What about order ${orderId}?`)], tools: allTools });
    expect(turn.content).toBeNull();
    expect(turn.finishReason).toBe('tool_calls');
    expect(turn.toolCalls).toEqual([
      {
        id: 'call_0_0_get_order_detail',
        name: 'get_order_detail',
        arguments: JSON.stringify({ order_id: orderId, include_items: true }),
      },
    ]);
  });

  it('takes the order id of the last user message, else the most recent earlier one', () => {
    const history: ChatMessage[] = [
      { role: 'system', content: 'You are a helpful assistant.' },
      user('order 202604100042 please'),
      { role: 'assistant', content: 'Sure.' },
      user(`and order ${orderId}?`),
      { role: 'assistant', content: 'Here it is.' },
    ];
    const latest = planTurn({ messages: [...history, user('Does it have an invoice?')], tools: allTools });
    expect(args(latest)).toEqual({ order_id: orderId, include_items: true });
    // Two assistant messages so far: this is round 2.
    expect(latest.toolCalls[0]?.id).toBe('call_2_0_get_order_detail');
    const named = planTurn({ messages: [...history, user('what about 202604100042 then')], tools: allTools });
    expect(args(named).order_id).toBe('202604100042');
  });

  it('says it cannot look the order up when get_order_detail is not offered', () => {
    const turn = planTurn({ messages: [user(`order ${orderId}`)], tools: ['list_tickets'] });
    expect(turn.toolCalls).toEqual([]);
    expect(turn.content).toContain(`haven't been able to look up order ${orderId}`);
  });
});

describe('step 4: the order lookup failed', () => {
  it.each(['NOT_FOUND', 'PERMISSION_DENIED'])('%s reveals nothing more than "not found"', (code) => {
    const { turns } = converse([user(`order ${orderId}`)], {
      get_order_detail: toolError(code, 'owned by u_2002 in tenant acme'),
    });
    expect(callsOf(turns)).toEqual([['get_order_detail'], []]);
    expect(turns[1]?.content).toBe(`I couldn't find order ${orderId} for your account.`);
  });

  it('other codes apologise, name the code and suggest a retry, without the internal message', () => {
    const { turns } = converse([user(`order ${orderId}`)], {
      get_order_detail: toolError('UNAVAILABLE', 'connect ECONNREFUSED 10.0.0.7:50061', true),
    });
    const text = turns[1]?.content ?? '';
    expect(text).toMatch(/sorry/i);
    expect(text).toContain('UNAVAILABLE');
    expect(text).toMatch(/try again/);
    expect(text).not.toContain('10.0.0.7');
  });
});

describe('step 5: stock and dispatch in parallel', () => {
  const afterOrder = (): ChatMessage[] => {
    const first = planTurn({ messages: [user(`status of ${orderId}?`)], tools: allTools });
    return [
      user(`status of ${orderId}?`),
      assistant(first),
      { role: 'tool', tool_call_id: 'call_0_0_get_order_detail', content: JSON.stringify(orderDetail) },
    ];
  };

  it('asks for both in one message', () => {
    const turn = planTurn({ messages: afterOrder(), tools: allTools });
    expect(turn.content).toBeNull();
    expect(turn.toolCalls.map((c) => [c.id, c.name, JSON.parse(c.arguments)])).toEqual([
      ['call_1_0_get_inventory_snapshot', 'get_inventory_snapshot', { skus: ['SKU-1001', 'SKU-2002'] }],
      ['call_1_1_get_dispatch_plan', 'get_dispatch_plan', { order_id: orderId }],
    ]);
  });

  it('asks for each SKU once and only for offered tools', () => {
    const messages = afterOrder();
    const duplicated = { ...orderDetail, items: [...orderDetail.items, { sku: 'SKU-1001', quantity: 3 }] };
    messages[2] = {
      role: 'tool',
      tool_call_id: 'call_0_0_get_order_detail',
      content: JSON.stringify(duplicated),
    };
    expect(args(planTurn({ messages, tools: allTools }))).toEqual({ skus: ['SKU-1001', 'SKU-2002'] });
    const onlyDispatch = planTurn({ messages, tools: ['get_order_detail', 'get_dispatch_plan'] });
    expect(onlyDispatch.toolCalls.map((c) => c.name)).toEqual(['get_dispatch_plan']);
  });

  it('skips the stock lookup for an order without items', () => {
    const { turns } = converse([user(`status of ${orderId}?`)], {
      ...demoResults,
      get_order_detail: { ...orderDetail, items: [] },
    });
    expect(callsOf(turns)).toEqual([['get_order_detail'], ['get_dispatch_plan'], []]);
  });

  it('makes one call per message when parallel tool calls are off', () => {
    const { turns } = converse([user(`status of ${orderId}?`)], demoResults, { parallelToolCalls: false });
    expect(callsOf(turns)).toEqual([
      ['get_order_detail'],
      ['get_inventory_snapshot'],
      ['get_dispatch_plan'],
      [],
    ]);
  });
});

describe('step 6: invoice ticket', () => {
  it('asks to open an invoice ticket when the invoice is not ready', () => {
    const { turns } = converse([user(`Where is order ${orderId}? I also need the invoice.`)]);
    expect(callsOf(turns)).toEqual([
      ['get_order_detail'],
      ['get_inventory_snapshot', 'get_dispatch_plan'],
      ['create_ticket'],
      [],
    ]);
    const ticketTurn = turns[2];
    // The proposal carries what is known so far, then asks for the ticket.
    expect(ticketTurn?.content).toContain('Order 202604100018: status shipped, payment paid.');
    expect(ticketTurn?.content).toMatch(
      new RegExp(
        `Your invoice isn't ready yet, so I'd like to open an invoice ticket for order ${orderId}\\.$`,
      ),
    );
    expect(ticketTurn?.toolCalls[0]?.id).toBe('call_2_0_create_ticket');
    expect(args(ticketTurn)).toEqual({
      order_id: orderId,
      category: 'invoice',
      description: `Customer requests an invoice for order ${orderId}.`,
    });
  });

  it('does not open a ticket when the invoice is ready, not asked for, or create_ticket is not offered', () => {
    const ready = converse([user(`INVOICE for ${orderId}`)], {
      ...demoResults,
      get_order_detail: { ...orderDetail, invoice_ready: true },
    });
    expect(callsOf(ready.turns).flat()).not.toContain('create_ticket');
    expect(ready.turns.at(-1)?.content).toContain('Invoice: ready.');

    const notAsked = converse([user(`Where is ${orderId}?`)]);
    expect(callsOf(notAsked.turns).flat()).not.toContain('create_ticket');
    expect(notAsked.turns.at(-1)?.content).toContain('Invoice: not ready yet.');

    const readOnly = converse([user(`invoice for ${orderId}`)], demoResults, {
      tools: allTools.filter((t) => t !== 'create_ticket'),
    });
    expect(callsOf(readOnly.turns).flat()).not.toContain('create_ticket');
  });
});

describe('step 7: the final answer', () => {
  it('states only what the tools returned', () => {
    const { turns } = converse([user(`Where is order ${orderId}? I need the invoice.`)]);
    expect(turns.at(-1)?.finishReason).toBe('stop');
    expect(turns.at(-1)?.content).toBe(
      [
        `Order ${orderId}: status shipped, payment paid.`,
        'Logistics number SF1234567890, dispatched from Shanghai-DC-03.',
        'Items:',
        '- Wireless Mouse (SKU-1001), quantity 1: in stock (12 available).',
        '- USB-C Dock (SKU-2002), quantity 2: out of stock, restock expected 2026-12-05.',
        'Dispatch: SF Express from Shanghai-DC-03, status in transit, estimated delivery 2026-04-13.',
        'Invoice: not ready yet; I opened invoice ticket T-0001 (status open).',
      ].join('\n'),
    );
  });

  it.each([
    ['DECLINED', 'you declined the ticket, so no ticket was created'],
    ['NOT_CONFIRMED', 'the ticket was not confirmed, so no ticket was created'],
    ['UNAVAILABLE', "I couldn't open a ticket (UNAVAILABLE)"],
  ])('reports a create_ticket error %s honestly', (code, expected) => {
    const { turns } = converse([user(`invoice for ${orderId}`)], {
      ...demoResults,
      create_ticket: toolError(code),
    });
    const text = turns.at(-1)?.content ?? '';
    expect(text).toContain(expected);
    expect(text).not.toContain('T-0001');
  });

  it('says stock or dispatch information is unavailable when those tools failed', () => {
    const { turns } = converse([user(`order ${orderId}`)], {
      ...demoResults,
      get_inventory_snapshot: toolError('UNAVAILABLE', 'boom', true),
      get_dispatch_plan: toolError('DEADLINE_EXCEEDED'),
    });
    const text = turns.at(-1)?.content ?? '';
    expect(text).toContain('Stock information is unavailable right now (UNAVAILABLE).');
    expect(text).toContain('Dispatch information is unavailable right now (DEADLINE_EXCEEDED).');
    expect(text).not.toContain('available)');
  });

  it('describes an unshipped order without a logistics number', () => {
    const unshipped = {
      order_id: '202604100042',
      status: 'paid',
      pay_status: 'paid',
      logistics_no: null,
      dispatch_node: null,
      invoice_ready: true,
      items: [{ sku: 'SKU-1001', name: 'Wireless Mouse', quantity: 1 }],
    };
    const { turns } = converse([user('order 202604100042')], {
      get_order_detail: unshipped,
      get_inventory_snapshot: { items: [inventorySnapshot.items[0]] },
      get_dispatch_plan: toolError('NOT_FOUND'),
    });
    const text = turns.at(-1)?.content ?? '';
    expect(text).toContain('Order 202604100042: status paid, payment paid.');
    expect(text).toContain('No logistics number yet.');
    expect(text).toContain('There is no dispatch plan for this order yet.');
    expect(text).not.toContain('SF');
  });

  it('answers from the current turn only', () => {
    const first = converse([user(`order ${orderId}`)]);
    const next = planTurn({ messages: [...first.messages, user('and now?')], tools: allTools });
    // The earlier turn's results are stale: look again.
    expect(next.toolCalls.map((c) => c.name)).toEqual(['get_order_detail']);
    expect(next.toolCalls[0]?.id).toBe('call_3_0_get_order_detail');
  });
});

describe('tool_choice', () => {
  it('"none" answers with text summarising what was gathered so far', () => {
    const none = { toolChoice: 'none' as const };
    expect(planTurn({ messages: [user(`order ${orderId}`)], tools: allTools, ...none })).toEqual({
      content: expect.stringContaining(`haven't been able to look up order ${orderId}`),
      toolCalls: [],
      finishReason: 'stop',
    });
    const messages: ChatMessage[] = [
      user(`order ${orderId}`),
      { role: 'assistant', content: null, tool_calls: [{ id: 'a', function: { name: 'get_order_detail' } }] },
      { role: 'tool', tool_call_id: 'a', content: JSON.stringify(orderDetail) },
    ];
    const summary = planTurn({ messages, tools: allTools, ...none });
    expect(summary.toolCalls).toEqual([]);
    expect(summary.content).toContain('status shipped');
    expect(summary.content).not.toContain('stock');
  });

  it('"required" calls a tool even when the script is done', () => {
    const { messages } = converse([user(`order ${orderId}`)]);
    const turn = planTurn({ messages: messages.slice(0, -1), tools: allTools, toolChoice: 'required' });
    expect(turn.toolCalls.map((c) => c.name)).toEqual(['get_order_detail']);
    expect(turn.finishReason).toBe('tool_calls');
  });

  it('a named function is the only one called', () => {
    const forced = { type: 'function' as const, function: { name: 'get_dispatch_plan' } };
    const turn = planTurn({ messages: [user(`order ${orderId}`)], tools: allTools, toolChoice: forced });
    expect(turn.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([
      ['get_dispatch_plan', { order_id: orderId }],
    ]);
    const listed = planTurn({
      messages: [user('hello')],
      tools: allTools,
      toolChoice: { type: 'function', function: { name: 'list_tickets' } },
    });
    expect(listed.toolCalls.map((c) => c.name)).toEqual(['list_tickets']);
  });
});

describe('robustness', () => {
  it('treats malformed tool content as an error and never throws', () => {
    const { turns } = converse([user(`order ${orderId}`)], { get_order_detail: 'not json' });
    expect(turns.at(-1)?.content).toContain('MALFORMED_RESULT');
    const raw: ChatMessage[] = [
      user(`order ${orderId}`),
      { role: 'assistant', content: null, tool_calls: [{ id: 'x', function: { name: 'get_order_detail' } }] },
      { role: 'tool', tool_call_id: 'x', content: '{"status":' },
    ];
    expect(planTurn({ messages: raw, tools: allTools }).content).toContain('MALFORMED_RESULT');
  });

  it('copes with missing fields, odd shapes, unknown tools and junk messages', () => {
    const junk = [
      null,
      42,
      { role: 'tool', tool_call_id: 'nobody', content: '{}' },
      { role: 'function', content: 'legacy' },
      user(`order ${orderId}`),
      { role: 'assistant', content: null, tool_calls: { not: 'an array' } },
      {
        role: 'assistant',
        content: null,
        tool_calls: [null, { id: 'a', function: { name: 'get_order_detail' } }],
      },
      { role: 'tool', tool_call_id: 'a', content: JSON.stringify({ items: 'nope', invoice_ready: 'maybe' }) },
      { role: 'tool', name: 'mystery_tool', content: '[1,2]' },
    ] as unknown as ChatMessage[];
    const turn = planTurn({ messages: junk, tools: [...allTools, 'mystery_tool'] });
    expect(turn.toolCalls.map((c) => c.name)).toEqual(['get_dispatch_plan']);

    const withJunkResults: ChatMessage[] = [
      user(`order ${orderId} invoice`),
      { role: 'assistant', content: null, tool_calls: [{ id: 'a', function: { name: 'get_order_detail' } }] },
      { role: 'tool', tool_call_id: 'a', content: JSON.stringify({ items: [{ quantity: 'x' }, 7] }) },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'b', function: { name: 'get_dispatch_plan' } }],
      },
      { role: 'tool', tool_call_id: 'b', content: JSON.stringify({ error: 'plain string' }) },
    ];
    const answer = planTurn({ messages: withJunkResults, tools: allTools });
    expect(answer.toolCalls).toEqual([]);
    expect(answer.content).toContain(`Order ${orderId}.`);
    expect(answer.content).toContain('(UNKNOWN)');

    expect(() => planTurn({ messages: [], tools: [] })).not.toThrow();
    expect(planTurn({ messages: [], tools: [] }).content).toContain('12-digit');
  });

  it('uses the tool message name when no assistant call matches', () => {
    const messages: ChatMessage[] = [
      user(`order ${orderId}`),
      {
        role: 'tool',
        tool_call_id: 'unknown',
        name: 'get_order_detail',
        content: JSON.stringify(orderDetail),
      },
      {
        role: 'tool',
        tool_call_id: 'u2',
        name: 'get_inventory_snapshot',
        content: JSON.stringify(inventorySnapshot),
      },
      { role: 'tool', tool_call_id: 'u3', name: 'get_dispatch_plan', content: JSON.stringify(dispatchPlan) },
    ];
    const turn = planTurn({ messages, tools: allTools });
    expect(turn.toolCalls).toEqual([]);
    expect(turn.content).toContain('SF Express');
  });

  it('lists tickets of odd shape without throwing', () => {
    const { turns } = converse([user('list tickets')], {
      list_tickets: { tickets: [{}, 'x', createdTicket] },
    });
    expect(turns.at(-1)?.content).toContain('2 tickets');
    expect(ticketList.tickets).toHaveLength(2);
  });
});
