import { create, toBinary } from '@bufbuild/protobuf';
import { InvokeToolRequestSchema, InvokeToolResponseSchema } from '@toolmesh/proto';
import { createBenchMeshKeys } from './bench-mesh-keys.ts';
import { echoArguments } from './create-echo-tool.ts';
import { runInLoadWorker } from './fork-load-worker.ts';
import type { InterleavedPathResult, LoopJobResult, Target } from './load-job.ts';
import { echoPath, invokeToolPath } from './raw-echo-service.ts';
import type { LoopOptions } from './run-closed-loop.ts';
import { type ChildServer, startChild } from './start-child.ts';

/** The paths compared; the two in the middle split the hop into its client and server halves. */
export const toolHopPaths = [
  'raw: grpc-js client → grpc-js echo',
  'client half: rpc client → grpc-js canned answer',
  'server half: grpc-js client → tool-sdk service',
  'tool hop: rpc client → tool-sdk service',
  'tool hop: orchestrator executor → tool-sdk service',
] as const;

/** How long each path runs at a time before the next one takes over, in ms. */
export const sliceMs = 500;

/** One row of the tool-hop table. */
export interface ToolHopRow {
  path: (typeof toolHopPaths)[number];
  result: LoopJobResult;
  /**
   * CPU per answered call over the measured window, in µs: the server's process, and the
   * load generator's (the calling side: its client, credential and executor included).
   * Latency ratios mix both sides and the machine's scheduling; these say which side costs what.
   */
  cpuUsPerCall: { server: number; client: number };
}

/** Results of {@link measureToolHop}. */
export interface ToolHopResult {
  requestBytes: number;
  responseBytes: number;
  rows: ToolHopRow[];
  /** One tool call's mesh credential alone, in one process at concurrency 1: signing and verifying it. */
  credential?: { sign: LoopJobResult; verify: LoopJobResult };
}

/**
 * The cost of one tool hop on the same bytes: a bare grpc-js unary echo of the
 * encoded InvokeToolRequest, against the same request to a tool-sdk service
 * (connect-node server, error boundary, permission, size, JSON and zod checks,
 * timeout) called by @toolmesh/rpc's client alone and by the orchestrator's own
 * argument checks and executor. Mixed pairs split the cost into client and server.
 * Every call to the tool service carries a mesh credential signed with the orchestrator's
 * key, which the service verifies (keys made for the run); the rpc client and the executor
 * sign one per call, as the orchestrator does. Servers and load generator each run in a
 * process of their own. The paths of a level take turns in slices of {@link sliceMs} in one load
 * generator, so each is compared with the raw echo over the same minutes. Each path's row also
 * has the CPU per call of both sides. Then signing and verifying alone, for their share of the hop.
 */
export async function measureToolHop(loops: LoopOptions[]): Promise<ToolHopResult> {
  const argumentsJson = JSON.stringify(echoArguments);
  // The principal travels in the credential, not in the bytes.
  const call = { toolCallId: 'call_1', toolName: 'echo', idempotencyKey: 'call_1' };
  const request = toBinary(
    InvokeToolRequestSchema,
    create(InvokeToolRequestSchema, { ...call, argumentsJson }),
  );
  // What the echo tool answers, byte for byte.
  const response = toBinary(
    InvokeToolResponseSchema,
    create(InvokeToolResponseSchema, { outcome: { case: 'resultJson', value: argumentsJson } }),
  );
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  const keys = await createBenchMeshKeys();
  const { jwksFile, orchestratorKeyFile: signingKeyFile } = keys.files;
  const children: ChildServer[] = [];
  try {
    const raw = await startChild('./raw-echo-server-main.ts', ['--answer', base64(response)]);
    children.push(raw);
    const tools = await startChild('./tool-service-main.ts', ['--echo', '--jwks', jwksFile]);
    children.push(tools);
    const tool = { toolName: 'echo', argumentsJson, signingKeyFile };
    // The process that answers each path's calls.
    const servers: Record<ToolHopRow['path'], ChildServer> = {
      'raw: grpc-js client → grpc-js echo': raw,
      'client half: rpc client → grpc-js canned answer': raw,
      'server half: grpc-js client → tool-sdk service': tools,
      'tool hop: rpc client → tool-sdk service': tools,
      'tool hop: orchestrator executor → tool-sdk service': tools,
    };
    const targets: Record<ToolHopRow['path'], Target> = {
      'raw: grpc-js client → grpc-js echo': {
        kind: 'raw-unary',
        address: raw.address,
        path: echoPath,
        payloadBase64: base64(request),
      },
      'client half: rpc client → grpc-js canned answer': {
        kind: 'tool-client',
        address: raw.address,
        ...tool,
      },
      'server half: grpc-js client → tool-sdk service': {
        kind: 'raw-unary',
        address: tools.address,
        path: invokeToolPath,
        payloadBase64: base64(request),
        credential: { signingKeyFile, ...call },
      },
      'tool hop: rpc client → tool-sdk service': { kind: 'tool-client', address: tools.address, ...tool },
      'tool hop: orchestrator executor → tool-sdk service': {
        kind: 'tool-executor',
        address: tools.address,
        ...tool,
      },
    };
    const run = (target: Target, loop: LoopOptions) =>
      runInLoadWorker<LoopJobResult>(
        { type: 'loop', target, loop },
        loop.warmupMs + loop.durationMs + 30_000,
      );
    // All paths of a level in one load generator, taking turns in short slices: the VM's speed
    // drifts within minutes, and windows run one after the other read that drift as a ratio.
    const measureLevel = async (loop: LoopOptions): Promise<ToolHopRow[]> => {
      const rounds = Math.max(1, Math.round(loop.durationMs / sliceMs));
      const paths = toolHopPaths.map((path) => ({
        name: path,
        target: targets[path],
        serverPid: servers[path].pid,
      }));
      const results = await runInLoadWorker<InterleavedPathResult[]>(
        {
          type: 'interleaved',
          paths,
          concurrency: loop.concurrency,
          warmupMs: loop.warmupMs,
          sliceMs,
          rounds,
        },
        toolHopPaths.length * (loop.warmupMs + rounds * sliceMs) + 60_000,
      );
      return toolHopPaths.map((path, i): ToolHopRow => {
        const { result, serverCpuMs } = results[i] as InterleavedPathResult;
        const perCall = (ms: number) => (ms * 1000) / Math.max(1, result.ok);
        return {
          path,
          result,
          cpuUsPerCall: { server: perCall(serverCpuMs), client: perCall(result.cpuMs) },
        };
      });
    };
    const rows: ToolHopRow[] = [];
    for (const loop of loops) rows.push(...(await measureLevel(loop)));
    const serial = loops.find((loop) => loop.concurrency === 1);
    const credential = serial
      ? {
          sign: await run({ kind: 'mesh-credential', op: 'sign', signingKeyFile, jwksFile }, serial),
          verify: await run({ kind: 'mesh-credential', op: 'verify', signingKeyFile, jwksFile }, serial),
        }
      : undefined;
    return { requestBytes: request.length, responseBytes: response.length, rows, credential };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await keys.remove();
  }
}
