import type { TurnObserver } from '../turn/index.ts';
import type { OrchestratorMetrics } from './orchestrator-metrics.ts';

/** Options of {@link createTurnInstrumentation}. */
export interface TurnInstrumentationOptions {
  /**
   * Whether the tenant is named in the assistants file. Tenant ids come from credentials,
   * so only configured ones become label values; the rest count as "other".
   */
  isKnownTenant: (tenantId: string) => boolean;
}

/**
 * Turn metrics: tokens per tenant, assistant, variant and model
 * (toolmesh_model_tokens_total), turns per assistant, variant and model
 * (toolmesh_turns_total), and fallbacks (toolmesh_model_fallbacks_total). Every label
 * value is a name from the assistants file.
 */
export function createTurnInstrumentation(
  metrics: OrchestratorMetrics,
  options: TurnInstrumentationOptions,
): Required<Pick<TurnObserver, 'modelAnswered' | 'modelFellBack' | 'turnEnded'>> {
  const tenantLabel = (tenantId: string) => (options.isKnownTenant(tenantId) ? tenantId : 'other');
  return {
    modelAnswered(e) {
      const labels = {
        tenant: tenantLabel(e.tenantId),
        assistant: e.assistant,
        variant: e.variant,
        model: e.model,
      };
      metrics.modelTokens.inc({ ...labels, token_type: 'input' }, e.promptTokens);
      metrics.modelTokens.inc({ ...labels, token_type: 'output' }, e.completionTokens);
    },
    modelFellBack(from) {
      metrics.modelFallbacks.inc({ from: from.name });
    },
    turnEnded(e) {
      metrics.turns.inc({ assistant: e.assistant, variant: e.variant, model: e.model });
    },
  };
}

/** The label of a refused turn's tenant, bounded like {@link createTurnInstrumentation}'s. */
export function refusedTurnCounter(
  metrics: OrchestratorMetrics,
  options: TurnInstrumentationOptions,
): (reason: string, tenantId: string) => void {
  return (reason, tenantId) =>
    metrics.turnsRefused.inc({ reason, tenant: options.isKnownTenant(tenantId) ? tenantId : 'other' });
}
