import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '@toolmesh/telemetry';
import { defineTool, type Tool, ToolFailure, toolErrors } from '@toolmesh/tool-sdk';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { z } from 'zod';
import type { McpConnection } from './mcp-connection.ts';

const ajv = new Ajv2020({ allErrors: true, strict: false });
// ajv-formats is CommonJS: under ESM its plugin is the module's `default` property.
ajvFormats.default(ajv);

/** The mesh name of an MCP tool: `<server>_<tool>`, sanitized to what model APIs accept. */
export function meshToolName(server: string, tool: string): string {
  return `${server}_${tool}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
}

const bounded = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

// base64 length → bytes, without decoding it.
const base64Bytes = (data: string) =>
  Math.floor((data.length * 3) / 4) - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0);

/**
 * An MCP tool result as a toolmesh result: `structuredContent` when present, else the text
 * joined; images, audio and resources are summarized (type, mime type, size, uri), never
 * passed on raw. `isError` becomes a FAILED_PRECONDITION with the (bounded) text.
 */
export function toolResult(result: CallToolResult): unknown {
  const texts: string[] = [];
  const attachments: Record<string, unknown>[] = [];
  for (const c of result.content ?? []) {
    if (c.type === 'text') texts.push(c.text);
    else if (c.type === 'image' || c.type === 'audio')
      attachments.push({ type: c.type, mime_type: c.mimeType, bytes: base64Bytes(c.data) });
    else if (c.type === 'resource') {
      const r = c.resource;
      attachments.push({
        type: 'resource',
        uri: r.uri,
        mime_type: r.mimeType,
        bytes: 'blob' in r ? base64Bytes(r.blob) : r.text.length,
      });
    } else if (c.type === 'resource_link')
      attachments.push({ type: 'resource_link', uri: c.uri, name: c.name, mime_type: c.mimeType });
  }
  const text = texts.join('\n');
  if (result.isError)
    throw new ToolFailure('FAILED_PRECONDITION', bounded(text || 'the MCP tool reported an error', 500));
  if (result.structuredContent !== undefined) return result.structuredContent;
  return attachments.length ? { text, attachments } : { text };
}

/** Options of {@link mcpTools}. */
export interface McpToolsOptions {
  connection: McpConnection;
  logger: Logger;
  /** Timeout of a tool the file sets none for; default 10 s. */
  defaultTimeoutMs?: number;
}

/**
 * The tools of one MCP server as toolmesh tools: named `<server>_<tool>`, the MCP description
 * prefixed with both names, arguments checked against the MCP `inputSchema` (path and rule,
 * never values), `readOnlyHint: true` a read and anything else a write unless the file overrides.
 */
export function mcpTools(options: McpToolsOptions): Tool[] {
  const { connection, logger } = options;
  const { server } = connection;
  const out: Tool[] = [];
  const seen = new Set<string>();
  for (const mcp of connection.tools()) {
    const name = meshToolName(server.name, mcp.name);
    if (seen.has(name)) {
      logger.warn(
        { mcp_server: server.name, tool: mcp.name, name },
        'MCP tool name collides after sanitizing; skipped',
      );
      continue;
    }
    // Our validators speak draft 2020-12; the orchestrator compiles the published schema the same way.
    const { $schema: _, ...schema } = mcp.inputSchema as Record<string, unknown>;
    let validate: ReturnType<typeof ajv.compile>;
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      logger.warn(
        { err: error, mcp_server: server.name, tool: mcp.name },
        'MCP tool schema does not compile; skipped',
      );
      continue;
    }
    seen.add(name);
    const input = z.unknown().superRefine((args, ctx) => {
      if (validate(args)) return;
      for (const e of (validate.errors ?? []).slice(0, 5)) {
        const extra =
          e.keyword === 'additionalProperties'
            ? ` (${String(e.params.additionalProperty).slice(0, 64)})`
            : '';
        ctx.addIssue({
          code: 'custom',
          path: e.instancePath.split('/').slice(1),
          message: `${e.message ?? 'is invalid'}${extra}`,
        });
      }
    });
    const o = server.tools[mcp.name] ?? {};
    const sideEffect = o.sideEffect ?? (mcp.annotations?.readOnlyHint === true ? 'read' : 'write');
    const tool = defineTool({
      name,
      description: bounded(
        `[MCP server "${server.name}", tool "${mcp.name}"] ${mcp.description ?? mcp.annotations?.title ?? ''}`.trim(),
        1_000,
      ),
      input,
      metadata: {
        sideEffect,
        permission: o.permission ?? server.permission,
        timeoutMs: o.timeoutMs ?? options.defaultTimeoutMs ?? 10_000,
        cacheTtlMs: o.cacheTtlMs ?? 0,
        ...(sideEffect === 'read' ? {} : { idempotent: mcp.annotations?.idempotentHint === true }),
      },
      async handler(args, ctx) {
        if (!connection.tools().some((t) => t.name === mcp.name))
          throw toolErrors.notFound(`the MCP server ${server.name} no longer offers ${mcp.name}`);
        const result = await connection.call(mcp.name, args ?? {}, {
          signal: ctx.signal,
          timeoutMs: Math.max(1, ctx.remainingMs()),
        });
        return toolResult(result);
      },
    });
    out.push({ ...tool, inputJsonSchema: JSON.stringify(schema) });
  }
  return out;
}
