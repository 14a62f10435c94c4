import { Counter, Gauge, Histogram, type Registry } from '@toolmesh/telemetry';

// JSON-RPC methods as labels: the ones MCP defines here, everything else as "other", so a
// client cannot grow the series by inventing method names.
const knownMethods = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'notifications/initialized',
  'notifications/cancelled',
]);

/** The label of a JSON-RPC message (or batch) the gateway received at /mcp. */
export function mcpMethodLabel(body: unknown): string {
  const first = Array.isArray(body) ? body[0] : body;
  const method = first && typeof first === 'object' ? (first as { method?: unknown }).method : undefined;
  if (typeof method !== 'string') return first && typeof first === 'object' ? 'response' : 'other';
  return knownMethods.has(method) ? method : 'other';
}

/** What the MCP endpoint reports on /metrics. */
export interface McpMetrics {
  /** One finished HTTP request at /mcp: its JSON-RPC method and HTTP status. */
  request(method: string, status: number, seconds: number): void;
  /** A write's approval asked in the client: "approved", "declined", "cancelled" or "unanswered". */
  elicitation(answer: string): void;
  sessions(open: number): void;
}

const noMetrics: McpMetrics = { request() {}, elicitation() {}, sessions() {} };

/** The mcp_* series in `registry`; without one, nothing is recorded. */
export function createMcpMetrics(registry: Registry | undefined): McpMetrics {
  if (!registry) return noMetrics;
  const registers = [registry];
  const requests = new Counter({
    name: 'mcp_requests_total',
    help: 'HTTP requests at the MCP endpoint, by JSON-RPC method and HTTP status.',
    labelNames: ['method', 'status'] as const,
    registers,
  });
  const seconds = new Histogram({
    name: 'mcp_request_duration_seconds',
    help: 'Time to answer an HTTP request at the MCP endpoint (a tools/call includes the tool).',
    labelNames: ['method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const elicitations = new Counter({
    name: 'mcp_elicitations_total',
    help: 'Approvals of writes asked in the MCP client, by answer.',
    labelNames: ['answer'] as const,
    registers,
  });
  const open = new Gauge({
    name: 'mcp_sessions',
    help: 'Open stateful MCP sessions (clients that can be asked for approval).',
    registers,
  });
  return {
    request(method, status, s) {
      requests.inc({ method, status: String(status) });
      seconds.observe({ method }, s);
    },
    elicitation: (answer) => elicitations.inc({ answer }),
    sessions: (n) => open.set(n),
  };
}
