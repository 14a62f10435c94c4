import { create, toBinary } from '@bufbuild/protobuf';
import { InvokeToolRequestSchema, InvokeToolResponseSchema } from '@toolmesh/proto';
import { benchPrincipal } from './bench-principal.ts';
import { echoArguments } from './create-echo-tool.ts';
import { runInLoadWorker } from './fork-load-worker.ts';
import type { LoopJobResult, Target } from './load-job.ts';
import { echoPath, invokeToolPath } from './raw-echo-service.ts';
import type { LoopOptions } from './run-closed-loop.ts';
import { startChild } from './start-child.ts';

/** The paths compared; the two in the middle split the hop into its client and server halves. */
export const toolHopPaths = [
  'raw: grpc-js client → grpc-js echo',
  'client half: rpc client → grpc-js canned answer',
  'server half: grpc-js client → tool-sdk service',
  'tool hop: rpc client → tool-sdk service',
  'tool hop: orchestrator executor → tool-sdk service',
] as const;

/** One row of the tool-hop table. */
export interface ToolHopRow {
  path: (typeof toolHopPaths)[number];
  result: LoopJobResult;
}

/** Results of {@link measureToolHop}. */
export interface ToolHopResult {
  requestBytes: number;
  responseBytes: number;
  rows: ToolHopRow[];
}

/**
 * The cost of one tool hop on the same bytes: a bare grpc-js unary echo of the
 * encoded InvokeToolRequest, against the same request to a tool-sdk service
 * (connect-node server, error boundary, permission, size, JSON and zod checks,
 * timeout) called by @toolmesh/rpc's client alone and by the orchestrator's own
 * argument checks and executor. Mixed pairs split the cost into client and server.
 * Servers and load generator each run in a process of their own.
 */
export async function measureToolHop(loops: LoopOptions[]): Promise<ToolHopResult> {
  const argumentsJson = JSON.stringify(echoArguments);
  const request = toBinary(
    InvokeToolRequestSchema,
    create(InvokeToolRequestSchema, {
      toolCallId: 'call_1',
      toolName: 'echo',
      argumentsJson,
      principal: benchPrincipal,
      idempotencyKey: 'call_1',
    }),
  );
  // What the echo tool answers, byte for byte.
  const response = toBinary(
    InvokeToolResponseSchema,
    create(InvokeToolResponseSchema, { outcome: { case: 'resultJson', value: argumentsJson } }),
  );
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  const raw = await startChild('./raw-echo-server-main.ts', ['--answer', base64(response)]);
  const tools = await startChild('./tool-service-main.ts', ['--echo']);
  const tool = { toolName: 'echo', argumentsJson };
  const targets: Record<ToolHopRow['path'], Target> = {
    'raw: grpc-js client → grpc-js echo': {
      kind: 'raw-unary',
      address: raw.address,
      path: echoPath,
      payloadBase64: base64(request),
    },
    'client half: rpc client → grpc-js canned answer': { kind: 'tool-client', address: raw.address, ...tool },
    'server half: grpc-js client → tool-sdk service': {
      kind: 'raw-unary',
      address: tools.address,
      path: invokeToolPath,
      payloadBase64: base64(request),
    },
    'tool hop: rpc client → tool-sdk service': { kind: 'tool-client', address: tools.address, ...tool },
    'tool hop: orchestrator executor → tool-sdk service': {
      kind: 'tool-executor',
      address: tools.address,
      ...tool,
    },
  };
  const rows: ToolHopRow[] = [];
  try {
    for (const loop of loops) {
      for (const path of toolHopPaths) {
        const timeoutMs = loop.warmupMs + loop.durationMs + 30_000;
        const job = { type: 'loop' as const, target: targets[path], loop };
        rows.push({ path, result: await runInLoadWorker<LoopJobResult>(job, timeoutMs) });
      }
    }
  } finally {
    await Promise.all([raw.stop(), tools.stop()]);
  }
  return { requestBytes: request.length, responseBytes: response.length, rows };
}
