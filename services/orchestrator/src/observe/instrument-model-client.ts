import { context, errorType, SpanKind, SpanStatusCode, trace, tracer } from '@toolmesh/telemetry';
import type { ModelClient } from '../model/index.ts';
import type { OrchestratorMetrics } from './orchestrator-metrics.ts';

/** Options of {@link instrumentModelClient}. */
export interface ModelInstrumentationOptions {
  metrics: OrchestratorMetrics;
  /** The configured model name (gen_ai.request.model). */
  model: string;
  /** The model server's base URL, for server.address and server.port. */
  baseURL: string;
  /** gen_ai.provider.name; default "openai", the API every supported server speaks. */
  provider?: string;
}

/**
 * Wraps a model client in the OpenTelemetry GenAI conventions: a CLIENT span `chat {model}`
 * per call with the token usage, and the gen_ai_client_token_usage and
 * gen_ai_client_operation_duration_seconds histograms. Prompts and answers are never
 * recorded.
 */
export function instrumentModelClient(model: ModelClient, options: ModelInstrumentationOptions): ModelClient {
  const { metrics } = options;
  const url = new URL(options.baseURL);
  const base = {
    gen_ai_operation_name: 'chat',
    gen_ai_provider_name: options.provider ?? 'openai',
    gen_ai_request_model: options.model,
  };
  const attributes = {
    'gen_ai.operation.name': base.gen_ai_operation_name,
    'gen_ai.provider.name': base.gen_ai_provider_name,
    'gen_ai.request.model': options.model,
    'server.address': url.hostname,
    'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
  };
  return {
    async complete(request) {
      // Assistant and variant names come from the assistants file: bounded by configuration.
      const labels = {
        ...base,
        assistant: request.labels?.assistant ?? '',
        variant: request.labels?.variant ?? '',
      };
      const parent = context.active();
      const span = tracer.startSpan(
        `chat ${options.model}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            ...attributes,
            ...(request.labels
              ? { 'toolmesh.assistant': request.labels.assistant, 'toolmesh.variant': request.labels.variant }
              : {}),
          },
        },
        parent,
      );
      const started = performance.now();
      try {
        const answer = await context.with(trace.setSpan(parent, span), () => model.complete(request));
        const { promptTokens, completionTokens } = answer.usage;
        span.setAttributes({
          'gen_ai.usage.input_tokens': promptTokens,
          'gen_ai.usage.output_tokens': completionTokens,
          'gen_ai.response.finish_reasons': [answer.toolCalls.length ? 'tool_calls' : 'stop'],
        });
        metrics.tokenUsage.observe({ ...labels, gen_ai_token_type: 'input' }, promptTokens);
        metrics.tokenUsage.observe({ ...labels, gen_ai_token_type: 'output' }, completionTokens);
        metrics.modelDuration.observe(labels, (performance.now() - started) / 1000);
        return answer;
      } catch (error) {
        const type = request.signal?.aborted ? 'canceled' : errorType(error);
        span.setAttribute('error.type', type);
        span.setStatus({ code: SpanStatusCode.ERROR });
        metrics.modelDuration.observe({ ...labels, error_type: type }, (performance.now() - started) / 1000);
        throw error;
      } finally {
        span.end();
      }
    },
  };
}
