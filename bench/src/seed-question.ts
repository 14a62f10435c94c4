/**
 * The benchmark question: reads only (no approval), and the scripted model plans
 * it as 3 model calls and 3 tool calls — get_order_detail, then
 * get_inventory_snapshot and get_dispatch_plan in parallel, then the answer.
 */
export const seedQuestion = 'Where is my order 202604100018?';

/** What every answer to {@link seedQuestion} must hold. */
export const seedExpectation = { toolCalls: 3, modelCalls: 3 };
