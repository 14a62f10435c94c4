import {
  askForOrderId,
  composeOrderAnswer,
  describeOrderError,
  describeTickets,
  invoiceTicketIntro,
} from './compose-answer.ts';
import { type ChatMessage, type ConversationFacts, isRecord, readConversation } from './read-conversation.ts';

/** OpenAI's tool_choice: a mode, or one named function that must be called. */
export type ToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

/** Input of {@link planTurn}. */
export interface PlanTurnInput {
  messages: readonly ChatMessage[];
  /** Names of the tools offered with this request; only these may be called. */
  tools: readonly string[];
  /** Default "auto". */
  toolChoice?: ToolChoice;
  /** false allows at most one call per answer; default true. */
  parallelToolCalls?: boolean;
}

/** One tool call the model asks for; arguments is a JSON string, as on the wire. */
export interface PlannedToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** The assistant message the model answers with. */
export interface PlannedTurn {
  content: string | null;
  toolCalls: PlannedToolCall[];
  finishReason: 'stop' | 'tool_calls';
}

interface Step {
  content: string | null;
  calls: { name: string; args: Record<string, unknown> }[];
}

/**
 * Plans the next assistant message of the demo world deterministically: look the order up,
 * then stock and dispatch in parallel, then an invoice ticket if asked for, then answer from
 * the results. Never throws, whatever the conversation holds.
 */
export function planTurn(input: PlanTurnInput): PlannedTurn {
  const facts = readConversation(input.messages);
  const choice = input.toolChoice ?? 'auto';
  const offered = new Set(choice === 'none' ? [] : input.tools);
  if (typeof choice === 'object') {
    const forced = choice.function?.name;
    offered.clear();
    if (forced && input.tools.includes(forced)) offered.add(forced);
  }

  const step = nextStep(facts, offered);
  let calls = input.parallelToolCalls === false ? step.calls.slice(0, 1) : step.calls;
  let content = step.content;
  // "required" and a named function oblige a call even when the script has nothing left to ask.
  if (calls.length === 0 && (choice === 'required' || typeof choice === 'object')) {
    const name = fallbackTool(facts, offered);
    if (name) {
      calls = [{ name, args: argumentsFor(name, facts) }];
      content = null;
    }
  }

  const toolCalls = calls.map((call, index) => ({
    id: `call_${facts.round}_${index}_${call.name}`,
    name: call.name,
    arguments: JSON.stringify(call.args),
  }));
  return { content, toolCalls, finishReason: toolCalls.length > 0 ? 'tool_calls' : 'stop' };
}

function nextStep(facts: ConversationFacts, offered: ReadonlySet<string>): Step {
  const { results, orderId } = facts;
  if (wantsTicketList(facts.lastUserText)) {
    const listed = results.get('list_tickets');
    if (listed) return say(describeTickets(listed));
    if (offered.has('list_tickets')) return call('list_tickets', {});
  }
  const reportStep = planReport(facts, offered);
  if (reportStep) return reportStep;
  if (!orderId) return say(askForOrderId());

  const order = results.get('get_order_detail');
  if (!order) {
    if (offered.has('get_order_detail'))
      return call('get_order_detail', argumentsFor('get_order_detail', facts));
    return say(composeOrderAnswer(orderId, facts));
  }
  if (!order.ok) return say(describeOrderError(orderId, order.code));

  // Stock and dispatch do not depend on each other: one message, two calls, run in parallel.
  const calls: Step['calls'] = [];
  const skus = orderSkus(facts);
  if (offered.has('get_inventory_snapshot') && skus.length > 0 && !results.has('get_inventory_snapshot')) {
    calls.push({ name: 'get_inventory_snapshot', args: { skus } });
  }
  if (offered.has('get_dispatch_plan') && !results.has('get_dispatch_plan')) {
    calls.push({ name: 'get_dispatch_plan', args: { order_id: orderId } });
  }
  if (calls.length > 0) return { content: null, calls };

  if (
    /invoice/i.test(facts.lastUserText) &&
    order.value.invoice_ready === false &&
    offered.has('create_ticket') &&
    !results.has('create_ticket')
  ) {
    // What is known so far goes with the proposal: the user sees the answer while the write waits.
    return {
      content: `${composeOrderAnswer(orderId, facts)}\n\n${invoiceTicketIntro(orderId)}`,
      calls: [ticketCall(orderId)],
    };
  }
  return say(composeOrderAnswer(orderId, facts));
}

function wantsTicketList(text: string): boolean {
  return /ticket/i.test(text) && /\blist\b|\bmy tickets\b|\bshow\b/i.test(text);
}

function orderSkus(facts: ConversationFacts): string[] {
  const order = facts.results.get('get_order_detail');
  if (!order?.ok || !Array.isArray(order.value.items)) return [];
  const skus = order.value.items.filter(isRecord).map((item) => item.sku);
  return [...new Set(skus.filter((sku): sku is string => typeof sku === 'string' && sku !== ''))];
}

function fallbackTool(facts: ConversationFacts, offered: ReadonlySet<string>): string | undefined {
  if (facts.orderId && offered.has('get_order_detail')) return 'get_order_detail';
  if (offered.has('list_tickets')) return 'list_tickets';
  return offered.values().next().value;
}

// Best-effort arguments for a tool the caller forces; unknown tools get {}.
function argumentsFor(name: string, facts: ConversationFacts): Record<string, unknown> {
  const orderId = facts.orderId;
  switch (name) {
    case 'get_order_detail':
      return orderId ? { order_id: orderId, include_items: true } : {};
    case 'get_inventory_snapshot':
      return { skus: orderSkus(facts) };
    case 'get_dispatch_plan':
      return orderId ? { order_id: orderId } : {};
    case 'create_ticket':
      return orderId ? ticketCall(orderId).args : {};
    default:
      return {};
  }
}

function ticketCall(orderId: string): Step['calls'][number] {
  return {
    name: 'create_ticket',
    args: {
      order_id: orderId,
      category: 'invoice',
      description: `Customer requests an invoice for order ${orderId}.`,
    },
  };
}

function say(content: string): Step {
  return { content, calls: [] };
}

function call(name: string, args: Record<string, unknown>): Step {
  return { content: null, calls: [{ name, args }] };
}

// Report export: an async tool. Its call answers with a task id at once; the
// result arrives later as a system note from the server, which the next turn reads.
function planReport(facts: ConversationFacts, offered: ReadonlySet<string>): Step | undefined {
  if (!/\b(report|export)\b/i.test(facts.lastUserText)) return undefined;
  const note = facts.taskNotes.at(-1);
  if (note && !facts.results.has('export_order_report')) return say(note);
  const started = facts.results.get('export_order_report');
  if (started) {
    if (!started.ok) return say(`I couldn't start the report (${started.code}).`);
    const taskId = typeof started.value.task_id === 'string' ? started.value.task_id : 'unknown';
    return say(
      `I started the report export as task ${taskId}. I'll have the result on your next message; you can also follow it with TaskService/WatchTask.`,
    );
  }
  if (facts.orderId && offered.has('export_order_report')) {
    return call('export_order_report', { order_id: facts.orderId, format: 'csv' });
  }
  return undefined;
}
