import { toJson } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import {
  BreakerState,
  BreakerStateSchema,
  ListRegisteredToolsResponseSchema,
  RegistryService,
  SideEffectSchema,
  type ToolServiceEndpoint,
} from '@toolmesh/proto';
import { type CliContext, exitCode } from './cli-context.ts';
import { enumLabel } from './enum-label.ts';
import { durationMs, formatDuration } from './format-duration.ts';
import { formatTable } from './format-table.ts';
import { printableJson, printableLine } from './printable.ts';

const rpc = 'toolmesh.v1.RegistryService/ListRegisteredTools';

function breaker(endpoint: ToolServiceEndpoint | undefined): string {
  if (!endpoint) return 'unknown';
  const state = enumLabel(BreakerStateSchema, endpoint.breakerState);
  return endpoint.breakerState === BreakerState.OPEN
    ? `${state}, retry in ${formatDuration(durationMs(endpoint.retryAfter))}`
    : state;
}

/**
 * `toolmesh tools`: the orchestrator's registry — every tool (each served version, with its
 * share of conversations) with its side effect, permission, whether the caller may use it,
 * whether a replica takes calls, the replicas with their circuit breakers, and the tools
 * the registry refused with why.
 */
export async function runTools(ctx: CliContext): Promise<number> {
  const client = createClient(RegistryService, ctx.transport);
  let res: Awaited<ReturnType<typeof client.listRegisteredTools>>;
  try {
    res = await client.listRegisteredTools({}, { timeoutMs: ctx.timeoutMs ?? 30_000 });
  } catch (error) {
    return ctx.reportError(error, rpc);
  }
  if (ctx.json) {
    ctx.stdout.write(`${printableJson(toJson(ListRegisteredToolsResponseSchema, res), 2)}\n`);
    return exitCode.ok;
  }
  const endpoints = new Map(res.endpoints.map((e) => [e.address, e]));
  const p = printableLine;
  const yesNo = (b: boolean) => (b ? 'yes' : 'no');
  const tools = [...res.tools].sort((a, b) =>
    (a.definition?.name ?? '').localeCompare(b.definition?.name ?? ''),
  );
  // A version share is worth a column only once some tool has versions.
  const versioned = tools.some((t) => t.version || t.versions.length);
  const replicas = (addresses: readonly string[]) =>
    addresses.map((a) => `${p(a)} (${breaker(endpoints.get(a))})`).join(', ') || '-';
  // One row per served version: during a rollout each version with its share and replicas.
  const rows = tools.flatMap((tool) => {
    const meta = tool.definition?.metadata;
    const sideEffect = meta ? enumLabel(SideEffectSchema, meta.sideEffect) : '-';
    const name = p(tool.definition?.name ?? '?');
    const versions = tool.versions.length
      ? tool.versions
      : [
          {
            version: tool.version,
            weight: tool.weight,
            addresses: tool.addresses,
            available: tool.available,
          },
        ];
    return versions.map((v) => [
      v.version ? `${name}@${p(v.version)}` : name,
      meta?.async ? `${sideEffect}, async` : sideEffect,
      p(meta?.permission || '-'),
      yesNo(tool.permitted),
      yesNo(v.available),
      replicas(v.addresses),
      ...(versioned ? [`${v.weight}%`] : []),
    ]);
  });
  const out: string[] = [];
  out.push(
    formatTable(
      [
        'TOOL',
        'SIDE EFFECT',
        'PERMISSION',
        'PERMITTED',
        'AVAILABLE',
        'REPLICAS (BREAKER)',
        ...(versioned ? ['SHARE'] : []),
      ],
      rows,
    ),
  );
  out.push('');
  // Refused tools are neither offered to models nor callable; the reason says what to fix.
  if (res.refusedTools.length) {
    out.push(
      formatTable(
        ['REFUSED TOOL', 'SERVICES', 'WHY'],
        res.refusedTools.map((r) => [
          r.version ? `${p(r.name)}@${p(r.version)}` : p(r.name),
          p(r.services.join(', ')) || '-',
          p(r.reason),
        ]),
      ),
    );
    out.push('');
  }
  out.push(
    res.publishingPolicy
      ? `publishing policy: ${p(res.publishingPolicy)}`
      : 'publishing policy: none (any discovered service may publish any tool name)',
  );
  // The gateway shows where tools run only to operators (registry:admin); say so rather than "0 endpoints".
  if (res.endpoints.length === 0 && res.tools.length > 0) {
    out.push(
      `${res.tools.length} tools; replicas and breakers are shown to operators (permission registry:admin)`,
    );
  } else {
    out.push(
      formatTable(
        ['ENDPOINT', 'BREAKER', 'REACHABLE', 'TOOLS'],
        res.endpoints.map((e) => [
          p(e.address),
          breaker(e),
          yesNo(e.reachable),
          p(e.tools.join(', ')) || '-',
        ]),
      ),
    );
    out.push('');
    out.push(
      `${res.tools.length} tools on ${res.endpoints.length} endpoints; discovery: ${p(res.discovery) || 'unknown'}`,
    );
  }
  ctx.stdout.write(`${out.join('\n')}\n`);
  return exitCode.ok;
}
