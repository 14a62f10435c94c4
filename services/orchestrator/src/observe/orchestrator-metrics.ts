import { Counter, Gauge, Histogram, type Registry } from '@toolmesh/telemetry';
import type { BreakerStateName } from '../tools/index.ts';

// Tool labels are names from the tool registry (only registered tools are executed,
// cached, limited or held); model labels come from the configuration. Nothing a user or
// the model writes becomes a label value.

/** Token buckets of gen_ai.client.token.usage, as the GenAI semantic conventions advise. */
const tokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];
/** Buckets of gen_ai.client.operation.duration (s), as advised there. */
const modelSecondsBuckets = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const toolSecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

// 0 closed, 1 half-open, 2 open: higher is worse, so max() over replicas reads naturally.
const breakerValue: Record<BreakerStateName, number> = { closed: 0, 'half-open': 1, open: 2 };

/** What the orchestrator records besides the gRPC series. */
export interface OrchestratorMetrics {
  /** The process's registry, e.g. for the grpc_client_* series of the tool clients. */
  readonly registry: Registry;
  /** toolmesh_tool_executions_total{tool, outcome}: outcome is success or the error code in lower case. */
  readonly toolExecutions: Counter<'tool' | 'version' | 'outcome'>;
  /** toolmesh_tool_execution_duration_seconds{tool}: calls that reached the tool service (cache hits excluded). */
  readonly toolDuration: Histogram<'tool' | 'version'>;
  /** toolmesh_tool_timeouts_total{tool}. */
  readonly toolTimeouts: Counter<'tool'>;
  /** toolmesh_tool_cache_hits_total{tool} and toolmesh_tool_cache_misses_total{tool}. */
  readonly cacheHits: Counter<'tool'>;
  readonly cacheMisses: Counter<'tool'>;
  /** toolmesh_tool_rate_limited_total{tool}: calls the orchestrator's rate or concurrency limits refused. */
  readonly rateLimited: Counter<'tool'>;
  /** toolmesh_approvals_requested_total{tool}: writes held for the user's approval. */
  readonly approvalsRequested: Counter<'tool'>;
  /** toolmesh_approvals_decided_total{decision}: approved, declined, expired or superseded. */
  readonly approvalsDecided: Counter<'decision'>;
  /**
   * gen_ai_client_token_usage{gen_ai_operation_name, gen_ai_provider_name, gen_ai_request_model,
   * gen_ai_token_type, assistant, variant}.
   */
  readonly tokenUsage: Histogram<
    | 'gen_ai_operation_name'
    | 'gen_ai_provider_name'
    | 'gen_ai_request_model'
    | 'gen_ai_token_type'
    | 'assistant'
    | 'variant'
  >;
  /**
   * gen_ai_client_operation_duration_seconds{gen_ai_operation_name, gen_ai_provider_name,
   * gen_ai_request_model, error_type, assistant, variant}.
   */
  readonly modelDuration: Histogram<
    | 'gen_ai_operation_name'
    | 'gen_ai_provider_name'
    | 'gen_ai_request_model'
    | 'error_type'
    | 'assistant'
    | 'variant'
  >;
  /**
   * toolmesh_model_tokens_total{tenant, assistant, variant, model, token_type}: tokens the model
   * answers cost; tenants outside the assistants file count as "other".
   */
  readonly modelTokens: Counter<'tenant' | 'assistant' | 'variant' | 'model' | 'token_type'>;
  /** toolmesh_turns_total{assistant, variant, model}: turns that called the model, by the model that answered last. */
  readonly turns: Counter<'assistant' | 'variant' | 'model'>;
  /** toolmesh_model_fallbacks_total{from}: model calls passed on to the next backend. */
  readonly modelFallbacks: Counter<'from'>;
  /**
   * toolmesh_turns_refused_total{reason, tenant}: turns refused before the model was called
   * (token_budget, concurrent_turns, chat_rate).
   */
  readonly turnsRefused: Counter<'reason' | 'tenant'>;
  /**
   * Records a tool endpoint's breaker state (toolmesh_tool_breaker_state{endpoint}: 0 closed,
   * 1 half-open, 2 open) and counts each opening (toolmesh_tool_breaker_trips_total{endpoint}).
   * Called once with "closed" when the endpoint is created, then on every change.
   */
  breakerStateChanged(endpoint: string, state: BreakerStateName): void;
  /** Drops an endpoint's breaker series when discovery removes the endpoint. */
  forgetEndpoint(endpoint: string): void;
}

/** Creates the orchestrator's metric families in the process's registry. */
export function createOrchestratorMetrics(registry: Registry): OrchestratorMetrics {
  const registers = [registry];
  const breakerState = new Gauge({
    name: 'toolmesh_tool_breaker_state',
    help: 'Circuit breaker of a tool endpoint: 0 closed, 1 half-open, 2 open.',
    labelNames: ['endpoint'],
    registers,
  });
  const breakerTrips = new Counter({
    name: 'toolmesh_tool_breaker_trips_total',
    help: 'Times the circuit breaker of a tool endpoint opened.',
    labelNames: ['endpoint'],
    registers,
  });
  return {
    registry,
    toolExecutions: new Counter({
      name: 'toolmesh_tool_executions_total',
      help: 'Tool calls executed, by tool, version (empty: unversioned) and outcome (success or the error code).',
      labelNames: ['tool', 'version', 'outcome'],
      registers,
    }),
    toolDuration: new Histogram({
      name: 'toolmesh_tool_execution_duration_seconds',
      help: 'Duration of tool calls that were not answered from the cache, limits and retries included, by tool and version.',
      labelNames: ['tool', 'version'],
      buckets: toolSecondsBuckets,
      registers,
    }),
    toolTimeouts: new Counter({
      name: 'toolmesh_tool_timeouts_total',
      help: 'Tool calls that ended with TIMEOUT.',
      labelNames: ['tool'],
      registers,
    }),
    cacheHits: new Counter({
      name: 'toolmesh_tool_cache_hits_total',
      help: 'Read tool calls answered from the result cache.',
      labelNames: ['tool'],
      registers,
    }),
    cacheMisses: new Counter({
      name: 'toolmesh_tool_cache_misses_total',
      help: 'Read tool calls the result cache could not answer (including cache failures).',
      labelNames: ['tool'],
      registers,
    }),
    rateLimited: new Counter({
      name: 'toolmesh_tool_rate_limited_total',
      help: "Tool calls refused by the orchestrator's per-user rate or concurrency limits.",
      labelNames: ['tool'],
      registers,
    }),
    approvalsRequested: new Counter({
      name: 'toolmesh_approvals_requested_total',
      help: 'Write tool calls held as pending actions until the user decides.',
      labelNames: ['tool'],
      registers,
    }),
    approvalsDecided: new Counter({
      name: 'toolmesh_approvals_decided_total',
      help: 'Pending actions closed: approved, declined, expired or superseded.',
      labelNames: ['decision'],
      registers,
    }),
    tokenUsage: new Histogram({
      name: 'gen_ai_client_token_usage',
      help: 'Number of input and output tokens used per model call.',
      labelNames: [
        'gen_ai_operation_name',
        'gen_ai_provider_name',
        'gen_ai_request_model',
        'gen_ai_token_type',
        'assistant',
        'variant',
      ],
      buckets: tokenBuckets,
      registers,
    }),
    modelDuration: new Histogram({
      name: 'gen_ai_client_operation_duration_seconds',
      help: 'Duration of model calls.',
      labelNames: [
        'gen_ai_operation_name',
        'gen_ai_provider_name',
        'gen_ai_request_model',
        'error_type',
        'assistant',
        'variant',
      ],
      buckets: modelSecondsBuckets,
      registers,
    }),
    modelTokens: new Counter({
      name: 'toolmesh_model_tokens_total',
      help: 'Model tokens spent, by tenant (those of the assistants file; others as "other"), assistant, variant, model and type.',
      labelNames: ['tenant', 'assistant', 'variant', 'model', 'token_type'],
      registers,
    }),
    turns: new Counter({
      name: 'toolmesh_turns_total',
      help: 'Turns that called the model, by assistant, variant and the model that answered last.',
      labelNames: ['assistant', 'variant', 'model'],
      registers,
    }),
    modelFallbacks: new Counter({
      name: 'toolmesh_model_fallbacks_total',
      help: 'Model calls passed on to the next backend because this one was unavailable.',
      labelNames: ['from'],
      registers,
    }),
    turnsRefused: new Counter({
      name: 'toolmesh_turns_refused_total',
      help: "Turns refused by a tenant's budget before the model was called, by reason.",
      labelNames: ['reason', 'tenant'],
      registers,
    }),
    breakerStateChanged(endpoint, state) {
      breakerState.set({ endpoint }, breakerValue[state]);
      if (state === 'open') breakerTrips.inc({ endpoint });
      else breakerTrips.inc({ endpoint }, 0);
    },
    forgetEndpoint(endpoint) {
      breakerState.remove({ endpoint });
      breakerTrips.remove({ endpoint });
    },
  };
}
