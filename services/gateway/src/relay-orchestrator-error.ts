import { type HandlerContext, relayError } from '@toolmesh/rpc';

/**
 * Rethrows a failed orchestrator call for the gateway's caller: the orchestrator's answers
 * keep their code, message and typed details (reason, retry hint); an orchestrator that
 * does not answer, or goes away mid-call, is DEPENDENCY_UNAVAILABLE.
 */
export function relayOrchestratorError(error: unknown, ctx: HandlerContext): never {
  throw relayError(error, { dependency: 'orchestrator', signal: ctx.signal });
}
