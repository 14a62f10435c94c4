import { readYamlFile, type YamlFileIssue } from '@toolmesh/config';
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

/** One problem of a servers file: its line, key path and what is wrong. */
export type McpServersFileIssue = YamlFileIssue;

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

/**
 * Parses and validates a servers file (TOOLMESH_MCP_SERVERS, see docs/mcp.md). `headers_env`
 * values are looked up in `env`. Throws {@link McpServersFileError} naming the line and key of
 * every problem; secrets never appear in its messages.
 */
export function parseMcpServersFile(
  text: string,
  env: Record<string, string | undefined>,
): McpServerConfig[] {
  const file = readYamlFile(text);
  const fail = (): never => {
    throw new McpServersFileError(file.issues);
  };
  if (file.issues.length) fail();
  const at = file.at;
  const data = file.validate(serversFile);
  if (!data) return fail();
  const names = new Set<string>();
  const servers = (data as z.output<typeof serversFile>).servers.map((s, i): McpServerConfig => {
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
  if (file.issues.length) fail();
  return servers;
}
