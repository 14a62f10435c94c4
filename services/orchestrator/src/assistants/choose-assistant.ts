import { createHash } from 'node:crypto';
import { Code, publicError } from '@toolmesh/rpc';
import type { Assistant, AssistantCatalog, AssistantVariant, ChosenAssistant } from './assistant-catalog.ts';

/** What {@link chooseAssistant} decides from. */
export interface AssistantRequest {
  /** `ChatRequest.assistant`; empty: the conversation's, else the tenant's default, else the catalog's. */
  requested: string;
  tenantId: string;
  /** The conversation's id (the one it will have, for a new one): the seed of its variant. */
  conversationId: string;
  /** What a continuing conversation was started with, as stored with it. */
  stored?: { assistant: string; variant: string };
}

/** Whether a tenant may use the assistant (an assistant without `tenants` is everyone's). */
export function assistantAllowed(assistant: Assistant, tenantId: string): boolean {
  return !assistant.tenants || assistant.tenants.includes(tenantId);
}

/** The assistants a tenant may use, in file order (what AssistantService lists). */
export function assistantsForTenant(catalog: AssistantCatalog, tenantId: string): Assistant[] {
  return [...catalog.assistants.values()].filter((a) => assistantAllowed(a, tenantId));
}

/** The assistant of a tenant's request that names none: the tenant's default, else the catalog's. */
export function defaultAssistantFor(catalog: AssistantCatalog, tenantId: string): string {
  return catalog.tenants.get(tenantId)?.defaultAssistant ?? catalog.defaultAssistant;
}

/**
 * The variant of a conversation that has none stored: a weighted choice, deterministic in the
 * conversation id and the assistant's name, so every turn and every replica picks the same
 * without storing anything, and the split over many conversations follows the weights.
 */
export function pickVariant(assistant: Assistant, conversationId: string): AssistantVariant {
  const variants = assistant.variants;
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  if (variants.length === 1 || total <= 0) return variants[0] as AssistantVariant;
  const digest = createHash('sha256').update(`${conversationId}\u0000${assistant.name}`).digest();
  // 48 bits: uniform enough, and exact in a double.
  let point = (digest.readUIntBE(0, 6) / 2 ** 48) * total;
  for (const v of variants) {
    if (point < v.weight) return v;
    point -= v.weight;
  }
  return variants.findLast((v) => v.weight > 0) as AssistantVariant;
}

const notFound = (name: string) => publicError(Code.NotFound, `no assistant named "${name}" for this tenant`);

/**
 * The assistant and variant a turn runs with. An unknown assistant and one the tenant may not
 * use are the same NOT_FOUND (a caller learns nothing of other tenants' assistants), never a
 * fallback to another. A continuing conversation keeps its assistant (naming another is
 * INVALID_ARGUMENT) and its stored variant while that exists; otherwise {@link pickVariant}.
 */
export function chooseAssistant(catalog: AssistantCatalog, request: AssistantRequest): ChosenAssistant {
  const { requested, stored, tenantId } = request;
  if (stored && requested && requested !== stored.assistant)
    throw publicError(
      Code.InvalidArgument,
      `this conversation belongs to assistant "${stored.assistant}"; start a new conversation for another`,
    );
  const name = requested || stored?.assistant || defaultAssistantFor(catalog, tenantId);
  const assistant = catalog.assistants.get(name);
  if (!assistant || !assistantAllowed(assistant, tenantId)) throw notFound(name);
  const variant =
    (stored && assistant.variants.find((v) => v.name === stored.variant)) ||
    pickVariant(assistant, request.conversationId);
  const { name: variantName, weight: _weight, ...profile } = variant;
  return { assistant: assistant.name, variant: variantName, profile };
}
