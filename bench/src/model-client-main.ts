// What one completion costs the orchestrator's model client: CPU µs per completion
// (process.cpuUsage of this process only; the canned model runs in a child process) and
// p50 latency, for the client on Node's fetch and on its lean undici fetch, with requests
// shaped like the seed question's three model calls (system prompt, six tools, tool
// results; ~4–6 KB of JSON each). The variants take turns (A B A B …) so that other work on
// the machine falls on all of them alike; the figures are medians over the rounds.
//
//   node bench/src/model-client-main.ts [--completions 2000] [--rounds 6] [--concurrency 1,8] [--stream] [--variant lean]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { createModelClient } from '@toolmesh/orchestrator';
import { startCannedModel } from '@toolmesh/testkit';
import { dispatchPlan, orderDetail, stock } from './demo-world.ts';
import { seedQuestion } from './seed-question.ts';

type ModelClient = ReturnType<typeof createModelClient>;
type ModelRequest = Parameters<ModelClient['complete']>[0];

const argument = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? (process.argv[at + 1] ?? fallback) : fallback;
};

// The child: the canned model answering like the scripted one does for the seed question.
async function serve() {
  const model = await startCannedModel((request) => {
    const results = request.messages.filter((m) => m.role === 'tool').length;
    if (results === 0)
      return {
        toolCalls: [
          { name: 'get_order_detail', arguments: '{"order_id":"202604100018","include_items":true}' },
        ],
      };
    if (results === 1)
      return {
        toolCalls: [
          { name: 'get_inventory_snapshot', arguments: '{"skus":["SKU-1001","SKU-2002"]}' },
          { name: 'get_dispatch_plan', arguments: '{"order_id":"202604100018"}' },
        ],
      };
    return { content: reply };
  });
  console.log(JSON.stringify({ baseUrl: model.baseUrl }));
  process.stdin.resume();
  await once(process.stdin, 'end');
  await model.close();
}

async function main() {
  const completions = Number(argument('completions', '2000'));
  const rounds = Number(argument('rounds', '6'));
  const levels = argument('concurrency', '1,8').split(',').map(Number);
  const stream = process.argv.includes('--stream');

  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  const { baseUrl } = JSON.parse(line) as { baseUrl: string };
  try {
    const options = { baseURL: baseUrl, apiKey: 'bench', model: 'canned', timeoutMs: 30_000 };
    const variants: { name: string; client: ModelClient }[] = [
      { name: "Node's fetch", client: createModelClient({ ...options, fetch: globalThis.fetch }) },
      { name: 'lean fetch (default)', client: createModelClient(options) },
    ];
    // --variant <part of a name>: one variant alone, e.g. under --cpu-prof.
    const only = argument('variant', '');
    if (only) variants.splice(0, variants.length, ...variants.filter((v) => v.name.includes(only)));
    const requests = chatRequests(stream);
    console.log(
      `${new Date().toISOString()}, Node ${process.version}, load average ${loadAverage()} at the start; ` +
        `${completions} completions × ${rounds} rounds per variant and concurrency, ` +
        `request bodies ${requests.map((r) => JSON.stringify(r.messages).length + JSON.stringify(r.tools).length).join('/')} B` +
        `${stream ? ', streamed (SSE)' : ''}\n`,
    );
    console.log('| variant | conc | CPU µs/completion | p50 µs | completions/s |');
    console.log('| ------- | ---- | ----------------- | ------ | ------------- |');
    for (const concurrency of levels) {
      // Warm-up: JIT, connections.
      for (const v of variants) await run(v.client, requests, Math.min(completions, 500), concurrency);
      const figures = variants.map((v) => ({ ...v, all: [] as Figure[] }));
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? figures : [...figures].reverse();
        for (const v of order) v.all.push(await run(v.client, requests, completions, concurrency));
      }
      for (const { name, all } of figures) {
        const v = { name };
        console.log(
          `| ${v.name} | ${concurrency} | ${median(all.map((f) => f.cpuUs)).toFixed(0)} | ` +
            `${median(all.map((f) => f.p50Us)).toFixed(0)} | ${median(all.map((f) => f.perSecond)).toFixed(0)} |`,
        );
      }
    }
    console.log(`\nload average ${loadAverage()} at the end`);
  } finally {
    child.stdin.end();
    await once(child, 'exit');
  }
  // The clients' kept-alive connections to the closed child would hold the loop a while.
  process.exit(0);
}

interface Figure {
  cpuUs: number;
  p50Us: number;
  perSecond: number;
}

async function run(
  client: ModelClient,
  requests: ModelRequest[],
  n: number,
  concurrency: number,
): Promise<Figure> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const request = requests[next++ % requests.length];
        const sent = performance.now();
        if (request) await client.complete(request);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const elapsed = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return {
    cpuUs: (used.user + used.system) / n,
    p50Us: median(latencies) * 1000,
    perSecond: (n / elapsed) * 1000,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

const reply =
  'Your order 202604100018 has shipped: SF Express carries it (tracking SF1234567890) from Shanghai-DC-03 ' +
  'and expects to deliver it on 13 April. Of its items, SKU-1001 is in stock (12 available); SKU-2002 is out ' +
  'of stock until 5 December. The invoice is not ready yet.';

const instructions =
  'You are the customer service assistant of an online shop. Answer questions about orders, stock, ' +
  'dispatch and support tickets with the tools you are given; never guess an order status, a stock level ' +
  'or a delivery date: look it up. Tools run with the permissions of the user who asks; when a tool ' +
  'refuses, say so plainly. Creating a ticket needs the user to confirm it: propose it and wait. ' +
  'Answer in the language of the question, briefly, with the facts the tools gave (order ids, dates, ' +
  'carriers, quantities). When a question is outside what the tools cover, say so and offer a ticket.';

function tool(name: string, description: string, properties: Record<string, unknown>, required: string[]) {
  return {
    type: 'function' as const,
    function: {
      name,
      description,
      parameters: { type: 'object', properties, required, additionalProperties: false },
    },
  };
}

const orderId = { type: 'string', pattern: '^[0-9]{12}$', description: 'The 12-digit order number.' };
const tools = [
  tool(
    'get_order_detail',
    "An order's status, payment, logistics number, dispatch node and, when asked, its items.",
    { order_id: orderId, include_items: { type: 'boolean', description: 'Include the order lines.' } },
    ['order_id'],
  ),
  tool(
    'get_inventory_snapshot',
    'Available stock and restock date of up to 50 SKUs.',
    { skus: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 50 } },
    ['skus'],
  ),
  tool(
    'get_dispatch_plan',
    "An order's carrier, dispatch node, status and estimated delivery.",
    { order_id: orderId },
    ['order_id'],
  ),
  tool(
    'create_ticket',
    'Opens a support ticket about an order (needs the user to confirm).',
    {
      order_id: orderId,
      category: { type: 'string', enum: ['delivery', 'payment', 'product', 'invoice', 'other'] },
      description: { type: 'string', minLength: 10, maxLength: 2000 },
    },
    ['order_id', 'category', 'description'],
  ),
  tool('list_tickets', "The user's support tickets, newest first.", {}, []),
  tool(
    'export_order_report',
    'Builds a report of the orders of a period; answers with a task id at once.',
    { from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' } },
    ['from', 'to'],
  ),
];

// The seed question's three model calls: the question, then with one tool result, then with three.
function chatRequests(stream: boolean): ModelRequest[] {
  const first: ModelRequest['messages'] = [
    { role: 'system', content: instructions },
    { role: 'user', content: seedQuestion },
  ];
  const call = (id: string, name: string, args: string) => ({
    id,
    type: 'function' as const,
    function: { name, arguments: args },
  });
  const second: ModelRequest['messages'] = [
    ...first,
    {
      role: 'assistant',
      content: null,
      tool_calls: [call('call_1', 'get_order_detail', '{"order_id":"202604100018","include_items":true}')],
    },
    { role: 'tool', tool_call_id: 'call_1', content: JSON.stringify(orderDetail) },
  ];
  const third: ModelRequest['messages'] = [
    ...second,
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        call('call_2', 'get_inventory_snapshot', '{"skus":["SKU-1001","SKU-2002"]}'),
        call('call_3', 'get_dispatch_plan', '{"order_id":"202604100018"}'),
      ],
    },
    { role: 'tool', tool_call_id: 'call_2', content: JSON.stringify(stock) },
    { role: 'tool', tool_call_id: 'call_3', content: JSON.stringify(dispatchPlan) },
  ];
  const onTextDelta = stream ? () => {} : undefined;
  return [first, second, third].map((messages) => ({
    messages,
    tools,
    ...(onTextDelta ? { onTextDelta } : {}),
  }));
}

// Last, once the constants above are set.
if (process.argv.includes('--serve')) await serve();
else await main();
