import { context, errorType, SpanKind, SpanStatusCode, trace, tracer } from '@toolmesh/telemetry';
import type { ToolInstrumentation } from '../tools/index.ts';
import type { OrchestratorMetrics } from './orchestrator-metrics.ts';

/**
 * Observes each tool call: an `execute_tool {tool}` span in the GenAI conventions (the
 * ledger's SQL and the InvokeTool call become its children; arguments and results are
 * never recorded), toolmesh_tool_executions_total by outcome, the duration of calls not
 * answered from the cache, and timeouts; executions and durations carry the tool's version.
 */
export function createToolInstrumentation(metrics: OrchestratorMetrics): ToolInstrumentation {
  return async (call, execute) => {
    const tool = call.tool.definition.name;
    // Which version ran: a rollout is judged (and rolled back) by comparing versions' outcomes.
    const version = call.tool.version ?? call.tool.definition.version;
    const parent = context.active();
    const span = tracer.startSpan(
      `execute_tool ${tool}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': tool,
          'gen_ai.tool.call.id': call.toolCallId,
          'gen_ai.tool.type': 'function',
          'toolmesh.tool.version': version,
        },
      },
      parent,
    );
    const started = performance.now();
    try {
      const outcome = await context.with(trace.setSpan(parent, span), execute);
      const result = outcome.success ? 'success' : (outcome.errorCode || 'INTERNAL').toLowerCase();
      metrics.toolExecutions.inc({ tool, version, outcome: result });
      if (!outcome.cached)
        metrics.toolDuration.observe({ tool, version }, (performance.now() - started) / 1000);
      if (outcome.errorCode === 'TIMEOUT') metrics.toolTimeouts.inc({ tool });
      span.setAttributes({ 'toolmesh.tool.cached': outcome.cached, 'toolmesh.tool.outcome': result });
      if (!outcome.success) {
        span.setAttribute('error.type', outcome.errorCode || 'INTERNAL');
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      return outcome;
    } catch (error) {
      // Only the caller's cancellation (or a failing ledger) gets here.
      const result = error instanceof Error && error.name === 'AbortError' ? 'canceled' : 'error';
      metrics.toolExecutions.inc({ tool, version, outcome: result });
      span.setAttribute('error.type', errorType(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  };
}
