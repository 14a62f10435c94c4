import { createHash } from 'node:crypto';
import { readYamlFile, type YamlFile } from '@toolmesh/config';
import type {
  Assistant,
  AssistantCatalog,
  AssistantProfile,
  AssistantVariant,
  ModelBackend,
  TenantPolicy,
} from './assistant-catalog.ts';
import { AssistantsFileError } from './assistants-file-error.ts';
import { type AssistantEntry, type AssistantsFileData, assistantsFile } from './assistants-file-schema.ts';
import { neutralAssistantName, neutralCatalog } from './neutral-catalog.ts';

/** Options of {@link parseAssistantsFile}. */
export interface ParseAssistantsFileOptions {
  /**
   * The orchestrator's own backend (OPENAI_BASE_URL, OPENAI_API_KEY, TOOLMESH_MODEL): the model of
   * assistants that name none, and the backend of a bare model name. Its name must not be one the
   * file declares (e.g. call it "env").
   */
  envModel: ModelBackend;
  /** Where `api_key_env` is looked up (the process's environment, passed in by the service). */
  env: Record<string, string | undefined>;
  /** Reads an `api_key_file` (utf-8); may throw. */
  readFile: (path: string) => string;
}

/** The version of a file's text as {@link AssistantCatalog.version} gives it: a short sha256. */
export function assistantsFileVersion(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/**
 * Parses and validates an assistants file (YAML; see config/assistants.yaml and
 * docs/assistants.md) into the catalog a turn chooses from. Model references resolve to
 * entries of `catalog.models`: a declared backend, else a model name served by
 * `envModel`'s backend (added as a backend of that name); no model means `envModel`.
 * An assistant without variants gets one, "default", of weight 1; variants inherit the
 * assistant's keys and override them. A file without assistants gets the neutral one.
 * Throws {@link AssistantsFileError} naming the line and key path of every problem.
 */
export function parseAssistantsFile(text: string, options: ParseAssistantsFileOptions): AssistantCatalog {
  const file = readYamlFile(text);
  const fail = (): never => {
    throw new AssistantsFileError(file.issues);
  };
  if (file.issues.length) fail();
  if (file.empty) {
    file.issues.push({ line: 0, path: '', message: 'the file is empty; expected assistants: and default:' });
    fail();
  }
  const data = file.validate(assistantsFile);
  if (!data) return fail();
  const catalog = resolve(data as AssistantsFileData, options, file.at);
  if (file.issues.length) fail();
  return { ...catalog, version: assistantsFileVersion(text) };
}

function resolve(
  file: AssistantsFileData,
  options: ParseAssistantsFileOptions,
  at: YamlFile['at'],
): Omit<AssistantCatalog, 'version'> {
  const { envModel } = options;
  const models = new Map<string, ModelBackend>([[envModel.name, envModel]]);
  const declared = new Set<string>();

  file.models?.forEach((m, i) => {
    if (m.name === envModel.name) {
      at(
        ['models', i, 'name'],
        `"${m.name}" is the name of the orchestrator's own model backend; choose another`,
      );
      return;
    }
    if (declared.has(m.name)) {
      at(['models', i, 'name'], `duplicate model backend "${m.name}"`);
      return;
    }
    declared.add(m.name);
    let apiKey = 'unused-key';
    if (m.api_key_env !== undefined && m.api_key_file !== undefined) {
      at(['models', i, 'api_key_file'], 'set api_key_env or api_key_file, not both');
    } else if (m.api_key_env !== undefined) {
      const value = options.env[m.api_key_env];
      if (!value) at(['models', i, 'api_key_env'], `environment variable ${m.api_key_env} is not set`);
      else apiKey = value;
    } else if (m.api_key_file !== undefined) {
      try {
        apiKey = options.readFile(m.api_key_file).trim();
        if (!apiKey) at(['models', i, 'api_key_file'], `${m.api_key_file} is empty`);
      } catch (error) {
        at(['models', i, 'api_key_file'], `cannot read ${m.api_key_file}: ${(error as Error).message}`);
      }
    }
    models.set(m.name, {
      name: m.name,
      baseURL: m.base_url,
      apiKey,
      model: m.model,
      ...(m.timeout_ms !== undefined && { timeoutMs: m.timeout_ms }),
    });
  });

  // A declared backend or the orchestrator's own by name, else a model of the orchestrator's backend.
  const modelRef = (ref: string): string => {
    if (!models.has(ref))
      models.set(ref, {
        name: ref,
        baseURL: envModel.baseURL,
        apiKey: envModel.apiKey,
        model: ref,
        ...(envModel.timeoutMs !== undefined && { timeoutMs: envModel.timeoutMs }),
      });
    return ref;
  };

  const assistants = new Map<string, Assistant>();
  const entries = file.assistants ?? [];
  entries.forEach((a, i) => {
    if (assistants.has(a.name)) {
      at(['assistants', i, 'name'], `duplicate assistant "${a.name}"`);
      return;
    }
    assistants.set(a.name, {
      name: a.name,
      ...(a.description !== undefined && { description: a.description }),
      ...(a.tenants !== undefined && { tenants: [...new Set(a.tenants)] }),
      variants: variantsOf(a, i, modelRef, envModel.name, at),
    });
  });

  let defaultAssistant = file.default;
  if (!entries.length) {
    const neutral = neutralCatalog(envModel).assistants.get(neutralAssistantName) as Assistant;
    assistants.set(neutral.name, neutral);
    if (defaultAssistant !== undefined && defaultAssistant !== neutral.name)
      at(['default'], `no assistant named "${defaultAssistant}" (the file defines none)`);
    defaultAssistant = neutral.name;
  } else if (defaultAssistant === undefined) {
    at(['default'], 'required: the assistant of requests that name none');
  } else if (!assistants.has(defaultAssistant)) {
    at(['default'], `no assistant named "${defaultAssistant}"`);
  }

  const tenants = new Map<string, TenantPolicy>();
  for (const [id, t] of Object.entries(file.tenants ?? {})) {
    const named = t.default_assistant;
    if (named !== undefined) {
      const assistant = assistants.get(named);
      if (!assistant) at(['tenants', id, 'default_assistant'], `no assistant named "${named}"`);
      else if (assistant.tenants && !assistant.tenants.includes(id))
        at(
          ['tenants', id, 'default_assistant'],
          `assistant "${named}" is not allowed for tenant "${id}" (its tenants: ${assistant.tenants.join(', ')})`,
        );
    }
    tenants.set(id, {
      ...(named !== undefined && { defaultAssistant: named }),
      ...(t.tokens_per_day !== undefined && { tokensPerDay: t.tokens_per_day }),
      ...(t.concurrent_turns !== undefined && { concurrentTurns: t.concurrent_turns }),
      ...(t.chat_rate_per_sec !== undefined && { chatRatePerSec: t.chat_rate_per_sec }),
      ...(t.chat_burst !== undefined && { chatBurst: t.chat_burst }),
    });
  }

  return { assistants, defaultAssistant: defaultAssistant ?? '', models, tenants };
}

type ProfileKeys = Partial<Omit<AssistantEntry, 'name' | 'description' | 'tenants' | 'variants'>>;

// A variant's keys over its assistant's: each key a variant sets replaces the assistant's.
function profileOf(
  base: ProfileKeys,
  over: ProfileKeys,
  modelRef: (ref: string) => string,
  envModelName: string,
): AssistantProfile {
  const pick = <K extends keyof ProfileKeys>(key: K): ProfileKeys[K] =>
    over[key] !== undefined ? over[key] : base[key];
  const primary = pick('model');
  const models = [
    ...new Set([
      primary === undefined ? envModelName : modelRef(primary),
      ...(pick('fallback_models') ?? []).map(modelRef),
    ]),
  ];
  const tools = pick('tools');
  const temperature = pick('temperature');
  const maxOutputTokens = pick('max_output_tokens');
  const maxRounds = pick('max_rounds');
  const contextBudgetTokens = pick('context_budget_tokens');
  const maxOfferedTools = pick('max_offered_tools');
  return {
    instructions: pick('instructions') as string,
    ...(tools !== undefined && { tools: [...tools] }),
    models,
    ...(temperature !== undefined && { temperature }),
    ...(maxOutputTokens !== undefined && { maxOutputTokens }),
    limits: {
      ...(maxRounds !== undefined && { maxRounds }),
      ...(contextBudgetTokens !== undefined && { contextBudgetTokens }),
      ...(maxOfferedTools !== undefined && { maxOfferedTools }),
    },
  };
}

function variantsOf(
  a: AssistantEntry,
  index: number,
  modelRef: (ref: string) => string,
  envModelName: string,
  at: YamlFile['at'],
): AssistantVariant[] {
  if (!a.variants)
    return [{ name: neutralAssistantName, weight: 1, ...profileOf(a, {}, modelRef, envModelName) }];
  const seen = new Set<string>();
  const variants: AssistantVariant[] = [];
  a.variants.forEach((v, i) => {
    if (seen.has(v.name)) {
      at(['assistants', index, 'variants', i, 'name'], `duplicate variant "${v.name}"`);
      return;
    }
    seen.add(v.name);
    variants.push({ name: v.name, weight: v.weight, ...profileOf(a, v, modelRef, envModelName) });
  });
  if (variants.reduce((sum, v) => sum + v.weight, 0) <= 0)
    at(['assistants', index, 'variants'], 'the weights add up to 0; give at least one variant a weight > 0');
  return variants;
}
