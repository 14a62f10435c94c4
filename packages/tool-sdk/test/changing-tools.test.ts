// A tool service whose tools change while it runs (`tools` as a function, as the MCP bridge
// passes it): ListTools publishes the current set, a tool added later is called with a credential
// for it, a tool removed is no longer admitted, and duplicate names in a new set are refused.
import { Code } from '@connectrpc/connect';
import { ToolService } from '@toolmesh/proto';
import { createGrpcClient, type Server } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createTestMeshKeys, rpcCode, type TestMeshKeys } from '@toolmesh/testkit';
import { z } from 'zod';
import { createToolServer, defineTool, type Tool } from '../src/index.ts';

const logger = createLogger({ service: 'tool-sdk-test', level: 'silent' });
const alice = { userId: 'u_1001', tenantId: 't_demo', permissions: ['x:read'] };
const tool = (name: string) =>
  defineTool({
    name,
    description: `test tool ${name}`,
    input: z.strictObject({}),
    metadata: { sideEffect: 'read', permission: 'x:read' },
    handler: async () => ({ from: name }),
  });

let keys: TestMeshKeys;
let server: Server;
let current: Tool[] = [tool('first')];
let client: ReturnType<typeof createGrpcClient<typeof ToolService>>;

beforeAll(async () => {
  keys = await createTestMeshKeys();
  server = createToolServer({ logger, meshKeys: keys.keys, tools: () => current });
  client = createGrpcClient(ToolService, { address: `127.0.0.1:${await server.listen(0, '127.0.0.1')}` });
});

afterAll(async () => {
  await server?.shutdown(500);
});

const names = async () => (await client.listTools({}, await keys.registryCall())).tools.map((t) => t.name);
const invoke = async (toolName: string) => {
  const call = {
    toolName,
    toolCallId: `call_${toolName}`,
    idempotencyKey: `key_${toolName}`,
    argumentsJson: '{}',
  };
  return (await client.invokeTool(call, await keys.toolCall(alice, call))).outcome;
};

test('ListTools and InvokeTool follow the current tool set', async () => {
  expect(await names()).toEqual(['first']);
  expect(await invoke('first')).toEqual({ case: 'resultJson', value: '{"from":"first"}' });

  current = [tool('second')];
  expect(await names()).toEqual(['second']);
  expect(await invoke('second')).toEqual({ case: 'resultJson', value: '{"from":"second"}' });
  // A credential for a tool no longer served is not meant for this service any more.
  expect(await rpcCode(invoke('first'))).toBe(Code.Unauthenticated);
});

test('a function returning duplicate names is refused at creation', () => {
  expect(() =>
    createToolServer({ logger, meshKeys: keys.keys, tools: () => [tool('a'), tool('a')] }),
  ).toThrow('duplicate tool names');
});
