import { create } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { ToolExecutionSchema } from '@toolmesh/proto';
import { renderToolExecution } from '../src/render-tool-execution.ts';

const plain = { style: (_style: unknown, text: string) => text };

test('a finished call shows its duration and the cached, retried and failed markers', () => {
  const base = { toolName: 'get_order_detail', duration: durationFromMs(14) };
  expect(
    renderToolExecution(create(ToolExecutionSchema, { ...base, success: true, attempts: 1 }), plain),
  ).toBe('✓ get_order_detail · 14 ms');
  expect(
    renderToolExecution(create(ToolExecutionSchema, { ...base, success: true, cached: true }), plain),
  ).toBe('✓ get_order_detail · 14 ms · cached');
  expect(
    renderToolExecution(create(ToolExecutionSchema, { ...base, success: true, attempts: 2 }), plain),
  ).toBe('✓ get_order_detail · 14 ms · retried ×1');
  expect(
    renderToolExecution(
      create(ToolExecutionSchema, {
        ...base,
        success: false,
        errorCode: 'TIMEOUT',
        errorMessage: 'too slow',
      }),
      plain,
    ),
  ).toBe('✗ get_order_detail · 14 ms · failed: TIMEOUT too slow');
});
