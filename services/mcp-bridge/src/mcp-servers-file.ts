import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { z } from 'zod';

const toolOverride = z.strictObject({
  permission: z.string().min(1).optional(),
  side_effect: z.enum(['read', 'write']).optional(),
  timeout_ms: z.number().int().min(1).max(600_000).optional(),
  cache_ttl_ms: z.number().int().min(0).optional(),
});

const stringMap = z.record(z.string(), z.string());

const serverEntry = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9]{1,32}$/, 'must be 1 to 32 lower-case letters or digits'),
    url: z.string().url().optional(),
    headers: stringMap.optional(),
    headers_env: z
      .record(z.string(), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must name a variable'))
      .optional(),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).optional(),
    env: stringMap.optional(),
    permission: z.string().min(1),
    tools: z.record(z.string(), toolOverride).optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.url === undefined) === (s.command === undefined))
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give exactly one of url or command' });
    if (s.url === undefined && (s.headers || s.headers_env))
      ctx.addIssue({ code: 'custom', path: ['headers'], message: 'headers need a url' });
    if (s.command === undefined && (s.args || s.env))
      ctx.addIssue({ code: 'custom', path: ['args'], message: 'args and env need a command' });
  });

const serversFile = z.strictObject({ servers: z.array(serverEntry) });

/** Per-tool overrides of what the MCP annotations say. */
export interface McpToolOverride {
  permission?: string;
  sideEffect?: 'read' | 'write';
  timeoutMs?: number;
  cacheTtlMs?: number;
}

/** One MCP server of the file, its secrets resolved from the environment. */
export interface McpServerConfig {
  name: string;
  transport:
    | { kind: 'http'; url: string; headers: Record<string, string> }
    | { kind: 'stdio'; command: string; args: string[]; env: Record<string, string> };
  /** The permission a user needs for every tool of this server, unless a tool overrides it. */
  permission: string;
  /** By MCP tool name. */
  tools: Record<string, McpToolOverride>;
}

/** One problem of a servers file: its line (1-based, 0 when unknown), key path and what is wrong. */
export interface McpServersFileIssue {
  line: number;
  path: string;
  message: string;
}

/** A servers file that cannot be used; its message lists every problem with line and key. */
export class McpServersFileError extends Error {
  readonly issues: McpServersFileIssue[];
  constructor(issues: McpServersFileIssue[]) {
    super(
      `invalid MCP servers file:\n${issues
        .map((i) => `  line ${i.line}${i.path ? ` ${i.path}` : ''}: ${i.message}`)
        .join('\n')}`,
    );
    this.name = 'McpServersFileError';
    this.issues = issues;
  }
}

type Path = readonly (string | number)[];

function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

// The line of a key path's key, or of the nearest mapping or list holding it when it is missing.
function locate(doc: Document, lines: LineCounter, path: Path): { line: number; found: boolean } {
  const lineOf = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : 0);
  let node: unknown = doc.contents;
  let line = lineOf(doc.contents);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
      if (!pair) return { line: line || lineOf(node), found: false };
      line = lineOf(pair.key as Node) || lineOf(pair.value as Node) || line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return { line, found: false };
      line = lineOf(item as Node) || line;
      node = item;
    } else {
      return { line, found: false };
    }
  }
  return { line, found: true };
}

/**
 * Parses and validates a servers file (TOOLMESH_MCP_SERVERS, see docs/mcp.md). `headers_env`
 * values are looked up in `env`. Throws {@link McpServersFileError} naming the line and key of
 * every problem; secrets never appear in its messages.
 */
export function parseMcpServersFile(
  text: string,
  env: Record<string, string | undefined>,
): McpServerConfig[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const issues: McpServersFileIssue[] = [];
  const fail = (): never => {
    throw new McpServersFileError(issues);
  };
  for (const e of doc.errors)
    issues.push({ line: lines.linePos(e.pos[0]).line, path: '', message: `invalid YAML: ${e.message}` });
  if (issues.length) fail();
  const at = (path: Path, message: string) =>
    issues.push({ line: locate(doc, lines, path).line, path: formatPath(path), message });

  const parsed = serversFile.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) at([...path, key], 'unknown key');
        continue;
      }
      const where = locate(doc, lines, path);
      const message = issue.code === 'invalid_type' && !where.found ? 'required' : issue.message;
      issues.push({ line: where.line, path: formatPath(path), message });
    }
    fail();
  }
  const names = new Set<string>();
  const servers = (parsed.data as z.output<typeof serversFile>).servers.map((s, i): McpServerConfig => {
    if (names.has(s.name)) at(['servers', i, 'name'], `duplicate server name "${s.name}"`);
    names.add(s.name);
    const tools: Record<string, McpToolOverride> = {};
    for (const [tool, o] of Object.entries(s.tools ?? {})) {
      tools[tool] = {
        ...(o.permission ? { permission: o.permission } : {}),
        ...(o.side_effect ? { sideEffect: o.side_effect } : {}),
        ...(o.timeout_ms ? { timeoutMs: o.timeout_ms } : {}),
        ...(o.cache_ttl_ms !== undefined ? { cacheTtlMs: o.cache_ttl_ms } : {}),
      };
    }
    if (s.url !== undefined) {
      const headers = { ...s.headers };
      for (const [header, variable] of Object.entries(s.headers_env ?? {})) {
        const value = env[variable];
        if (value === undefined || value === '')
          at(['servers', i, 'headers_env', header], `environment variable ${variable} is not set`);
        else headers[header] = value;
      }
      return {
        name: s.name,
        permission: s.permission,
        tools,
        transport: { kind: 'http', url: s.url, headers },
      };
    }
    return {
      name: s.name,
      permission: s.permission,
      tools,
      transport: { kind: 'stdio', command: s.command ?? '', args: s.args ?? [], env: s.env ?? {} },
    };
  });
  if (issues.length) fail();
  return servers;
}
