// An MCP server over stdio whose tool list changes on request, for the bridge's list-change test:
// `add-tool {name}` registers a tool `name` (the SDK then sends notifications/tools/list_changed).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'list-changing', version: '1.0.0' });
server.registerTool(
  'add-tool',
  {
    description: 'Adds a tool of the given name.',
    inputSchema: { name: z.string().regex(/^[a-z-]{1,32}$/) },
    annotations: { readOnlyHint: true },
  },
  async ({ name }) => {
    server.registerTool(
      name,
      { description: `Added at run time (${name}).`, annotations: { readOnlyHint: true } },
      async () => ({ content: [{ type: 'text', text: `${name} says hi` }] }),
    );
    return { content: [{ type: 'text', text: `added ${name}` }] };
  },
);
await server.connect(new StdioServerTransport());
