// The assistants configuration as the orchestrator uses it, once parsed and validated
// (see parse-assistants-file.ts for the YAML it comes from).

/** An OpenAI-compatible model backend named in the assistants file. */
export interface ModelBackend {
  /** The name assistants refer to it by, e.g. "primary". */
  name: string;
  baseURL: string;
  /** Resolved at load time from `api_key_env` or `api_key_file`; never logged. */
  apiKey: string;
  /** The model name sent to that backend. */
  model: string;
  /** Upper bound of one request; default the orchestrator's MODEL_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** Limits of an assistant's turns; each one set replaces the orchestrator's own value. */
export interface AssistantLimits {
  maxRounds?: number;
  contextBudgetTokens?: number;
  maxOfferedTools?: number;
}

/** What a turn runs with: one assistant, or one weighted variant of it. */
export interface AssistantProfile {
  /** The system prompt. */
  instructions: string;
  /**
   * Tool names or globs (`*` any run of characters, e.g. "ticket:*" would not match tool names,
   * "get_*" would); undefined: every tool the user may run.
   */
  tools?: string[];
  /** Backend names in order: the primary, then fallbacks tried only when it is unavailable. */
  models: string[];
  /** Sent as given when set. */
  temperature?: number;
  /** Sent as the model API's output limit. */
  maxOutputTokens?: number;
  limits: AssistantLimits;
}

/** One variant of an assistant in a gray release. */
export interface AssistantVariant extends AssistantProfile {
  /** e.g. "v1"; an assistant without variants has one, named "default". */
  name: string;
  /** Relative weight; the shares are weight / sum of weights. */
  weight: number;
}

/** An assistant: a name, who may use it, and its variants (at least one). */
export interface Assistant {
  name: string;
  description?: string;
  /** Tenants allowed to use it; undefined: every tenant. */
  tenants?: string[];
  variants: AssistantVariant[];
}

/** A tenant's policy: its default assistant and its budgets. */
export interface TenantPolicy {
  defaultAssistant?: string;
  /** Model tokens (prompt + completion) per UTC day. */
  tokensPerDay?: number;
  /** Turns running at once. */
  concurrentTurns?: number;
  /** Chat turns started per second across the tenant, and the burst. */
  chatRatePerSec?: number;
  chatBurst?: number;
}

/** Everything one assistants file says, validated. */
export interface AssistantCatalog {
  assistants: ReadonlyMap<string, Assistant>;
  /** The assistant of a request that names none (and whose tenant names none). */
  defaultAssistant: string;
  models: ReadonlyMap<string, ModelBackend>;
  tenants: ReadonlyMap<string, TenantPolicy>;
  /**
   * Which file contents this is (a short hash of the file; "neutral" without a file), for logs
   * and audit: two replicas with the same version run the same assistants.
   */
  version?: string;
}

/** The assistant a turn runs with. */
export interface ChosenAssistant {
  assistant: string;
  variant: string;
  profile: AssistantProfile;
}
