import { create } from '@bufbuild/protobuf';
import { ToolDefinitionSchema } from '@toolmesh/proto';
import { buildPrompt, canonicalJson, offeredTools, type StoredMessage } from '../src/index.ts';

test('tool results follow their assistant message in call order; an interrupted call gets a result', () => {
  const history: StoredMessage[] = [
    { role: 'user', content: 'hi' },
    {
      role: 'assistant',
      content: null,
      toolCalls: [
        { id: 'a', name: 'x', arguments: '{}' },
        { id: 'b', name: 'y', arguments: '{}' },
        { id: 'c', name: 'z', arguments: '{}' },
      ],
    },
    { role: 'tool', toolCallId: 'b', content: '"B"' },
    { role: 'tool', toolCallId: 'a', content: '"A"' },
    { role: 'user', content: 'next' },
  ];
  const prompt = buildPrompt(history);
  expect(prompt.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool', 'tool', 'user']);
  const tools = prompt.filter((m) => m.role === 'tool');
  expect(tools.map((m) => m.tool_call_id)).toEqual(['a', 'b', 'c']);
  expect(tools.map((m) => m.content)).toEqual(['"A"', '"B"', expect.stringContaining('interrupted')]);
});

test('canonical JSON sorts keys at every level', () => {
  expect(canonicalJson({ b: 1, a: { d: [{ y: 1, x: 2 }], c: null } })).toBe(
    '{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}',
  );
});

test('only tools the user may run are offered, without the $schema keyword', () => {
  const tool = (name: string, permission: string) => ({
    definition: create(ToolDefinitionSchema, { name, description: name, metadata: { permission } }),
    parameters: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object' },
    validate: () => undefined,
    endpoints: [],
  });
  const offered = offeredTools([tool('read_it', 'x:read'), tool('write_it', 'x:write')], ['x:read']);
  expect(offered).toEqual([
    {
      type: 'function',
      function: { name: 'read_it', description: 'read_it', parameters: { type: 'object' } },
    },
  ]);
});
