import { AssistantService, type Principal } from '@toolmesh/proto';
import {
  type HandlerContext,
  requireCredential,
  type ServiceRegistration,
  serviceRegistration,
} from '@toolmesh/rpc';
import { type AssistantCatalog, assistantsForTenant, defaultAssistantFor } from './assistants/index.ts';

/** Options of {@link createAssistantService}. */
export interface AssistantServiceOptions {
  /** The assistants file as last loaded (reloads show on the next call). */
  assistants: { current(): AssistantCatalog };
  /** The verified caller; default the mesh credential's principal. */
  principalOf?: (ctx: HandlerContext) => Principal;
}

/**
 * AssistantService: the assistants the caller's tenant may use and its default. Only what a
 * caller needs to choose one: names, descriptions, tool globs, model backend names and variant
 * weights; never instructions or anything of the backends (URLs, keys).
 */
export function createAssistantService(options: AssistantServiceOptions): ServiceRegistration {
  const principalOf = options.principalOf ?? ((ctx: HandlerContext) => requireCredential(ctx).principal);
  return serviceRegistration(AssistantService, {
    listAssistants(_req, ctx) {
      const { tenantId } = principalOf(ctx);
      const catalog = options.assistants.current();
      const usable = assistantsForTenant(catalog, tenantId);
      const preferred = defaultAssistantFor(catalog, tenantId);
      return {
        assistants: usable.map((a) => ({
          name: a.name,
          description: a.description ?? '',
          tools: a.variants[0]?.tools ?? [],
          models: a.variants[0]?.models ?? [],
          variants: a.variants.map((v) => ({ name: v.name, weight: v.weight, models: v.models })),
        })),
        // A default the tenant may not use is not offered: a request naming none is refused.
        defaultAssistant: usable.some((a) => a.name === preferred) ? preferred : '',
      };
    },
  });
}
