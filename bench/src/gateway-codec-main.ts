// What the gateway's decode and re-encode of one chat cost: the ChatRequest it receives and
// forwards, and the ChatResponse it receives and answers, as protobuf binary (the gRPC path)
// and as JSON (the Connect path, which must be decoded anyway). Closed loop in this process;
// the figures put "forward without decoding" (issue: a lean gateway) in proportion to a chat.
//
//   node bench/src/gateway-codec-main.ts [--iterations 200000]
import { create, fromBinary, fromJsonString, toBinary, toJsonString } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { ChatRequestSchema, ChatResponseSchema, StopReason } from '@toolmesh/proto';
import { seedQuestion } from './seed-question.ts';

const arg = process.argv.indexOf('--iterations');
const iterations = arg > 0 ? Number(process.argv[arg + 1]) : 200_000;

const request = create(ChatRequestSchema, {
  conversationId: crypto.randomUUID(),
  message: seedQuestion,
  idempotencyKey: crypto.randomUUID(),
});
// The seed question's answer: three tool executions and a reply of a few hundred characters.
const response = create(ChatResponseSchema, {
  conversationId: request.conversationId,
  reply:
    'Your order 202604100018 was placed on 10 April and is packed: two of its three items are in stock at ' +
    'the Leipzig warehouse, the third arrives there on 14 April. Dispatch is planned for 15 April with DHL, ' +
    'delivery expected 17 April. I will keep an eye on the missing item for you.',
  toolExecutions: ['get_order_detail', 'get_inventory_snapshot', 'get_dispatch_plan'].map((toolName, i) => ({
    toolCallId: `call_${i + 1}`,
    toolName,
    success: true,
    duration: durationFromMs(3 + i),
    attempts: 1,
  })),
  usage: { promptTokens: 3652, completionTokens: 180 },
  stopReason: StopReason.COMPLETED,
});

function perCall(what: string, work: () => unknown) {
  for (let i = 0; i < iterations / 10; i++) work();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) work();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`| ${what.padEnd(64)} | ${(ns / 1000).toFixed(2).padStart(6)} |`);
  return ns;
}

const requestBytes = toBinary(ChatRequestSchema, request);
const responseBytes = toBinary(ChatResponseSchema, response);
const requestJson = toJsonString(ChatRequestSchema, request);
const responseJson = toJsonString(ChatResponseSchema, response);
console.log(
  `ChatRequest ${requestBytes.length} B binary / ${requestJson.length} B JSON; ` +
    `ChatResponse ${responseBytes.length} B / ${responseJson.length} B; ${iterations} iterations each\n`,
);
console.log(`| ${'per chat'.padEnd(64)} | µs     |\n| ${'-'.repeat(64)} | ------ |`);
const binary =
  perCall('request: decode (public port, gRPC) + encode (to orchestrator)', () =>
    toBinary(ChatRequestSchema, fromBinary(ChatRequestSchema, requestBytes)),
  ) +
  perCall('response: decode (from orchestrator) + encode (public, gRPC)', () =>
    toBinary(ChatResponseSchema, fromBinary(ChatResponseSchema, responseBytes)),
  );
perCall('request: decode JSON (public port, Connect) + encode binary', () =>
  toBinary(ChatRequestSchema, fromJsonString(ChatRequestSchema, requestJson)),
);
perCall('response: decode binary + encode JSON (public, Connect)', () =>
  toJsonString(ChatResponseSchema, fromBinary(ChatResponseSchema, responseBytes)),
);
console.log(`\nbinary passthrough would save at most ${(binary / 1000).toFixed(2)} µs of CPU per chat`);
