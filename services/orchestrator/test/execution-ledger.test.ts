import { createExecutionLedger, type ExecutionStart } from '../src/store/index.ts';
import { useOrchestratorDatabase } from './support/use-orchestrator-database.ts';

const db = useOrchestratorDatabase();

const execution = (toolCallId: string): ExecutionStart => ({
  requestId: 'req_1',
  conversationId: '00000000-0000-4000-8000-000000000001',
  toolCallId,
  toolName: 'get_order_detail',
  userId: 'u_1001',
  tenantId: 't_demo',
  sideEffect: 'read',
  idempotencyKey: `k:${toolCallId}`,
  toolAddress: '127.0.0.1:50061',
  maskedArgumentsJson: '{"order_id":"202604100018"}',
});

const rows = async (toolCallId: string) => ({
  ledger: (
    await db.pool.query(
      'SELECT status, result_code, task_id, owner FROM orchestrator.tool_executions WHERE tool_call_id = $1',
      [toolCallId],
    )
  ).rows,
  audit: (
    await db.pool.query(
      'SELECT result_code, cached, duration_ms, arguments_json FROM orchestrator.audit_log WHERE tool_call_id = $1',
      [toolCallId],
    )
  ).rows,
});

test('an execution is running before the call leaves; finishing writes the audit record with it', async () => {
  const ledger = createExecutionLedger(db.pool);
  const finish = await ledger.start(execution('call_a'));
  expect(await rows('call_a')).toEqual({
    ledger: [{ status: 'running', result_code: null, task_id: null, owner: ledger.owner }],
    audit: [],
  });
  await finish({ success: false, resultCode: 'TIMEOUT', durationMs: 12.4, cached: false, taskId: 't_1' });
  expect(await rows('call_a')).toEqual({
    ledger: [{ status: 'failed', result_code: 'TIMEOUT', task_id: 't_1', owner: ledger.owner }],
    audit: [
      {
        result_code: 'TIMEOUT',
        cached: false,
        duration_ms: 12,
        arguments_json: '{"order_id":"202604100018"}',
      },
    ],
  });
});

test('a cached read is recorded finished, with its audit record, in one statement', async () => {
  const ledger = createExecutionLedger(db.pool);
  await ledger.record(execution('call_b'), { success: true, resultCode: 'OK', durationMs: 0, cached: true });
  expect(await rows('call_b')).toEqual({
    ledger: [{ status: 'done', result_code: 'OK', task_id: null, owner: ledger.owner }],
    audit: [
      { result_code: 'OK', cached: true, duration_ms: 0, arguments_json: '{"order_id":"202604100018"}' },
    ],
  });
  // Nothing of it is left for the reconciler.
  expect(await createExecutionLedger(db.pool).markStaleAsUnknown(0)).toEqual([]);
});
