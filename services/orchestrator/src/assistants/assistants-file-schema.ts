import { z } from 'zod';

// The YAML shape of an assistants file, key for key (snake_case as written). Each check carries
// the message a person editing the file needs; a missing key is reported as "required" by the
// parser, which can tell a missing key from a wrong value.

const nameRule = 'expected 1 to 64 characters of a-z, 0-9 and -';
const name = z.string({ error: nameRule }).regex(/^[a-z0-9-]{1,64}$/, { error: nameRule });

const text = (what: string) =>
  z.string({ error: `expected ${what}` }).refine((s) => s.trim().length > 0, { error: `expected ${what}` });

const int = (min: number, max?: number) => {
  const rule =
    max === undefined ? `expected an integer >= ${min}` : `expected an integer from ${min} to ${max}`;
  const base = z.number({ error: rule }).int({ error: rule }).min(min, { error: rule });
  return max === undefined ? base : base.max(max, { error: rule });
};

const list = <T extends z.ZodType>(item: T, what: string) =>
  z.array(item, { error: `expected a list of ${what}` });

const httpUrl = z
  .string({ error: 'expected an http(s) URL' })
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), {
    error: 'expected an http(s) URL',
  });

const toolPattern = text('a tool name or a glob (* is the only wildcard)');
const modelRef = text('a model backend name or a model name');

/** One entry of `models:`. */
export const modelBackendEntry = z.strictObject(
  {
    name,
    base_url: httpUrl,
    api_key_env: text('the name of an environment variable').optional(),
    api_key_file: text('a file path').optional(),
    model: text('a model name'),
    timeout_ms: int(1).optional(),
  },
  { error: 'expected a mapping' },
);

// Keys both an assistant and a variant may set; a variant's override the assistant's.
const profileKeys = {
  instructions: text('non-empty instructions (the system prompt)'),
  tools: list(toolPattern, 'tool names or globs'),
  model: modelRef,
  fallback_models: list(modelRef, 'model backend names or model names'),
  temperature: z
    .number({ error: 'expected a number from 0 to 2' })
    .min(0, { error: 'expected a number from 0 to 2' })
    .max(2, { error: 'expected a number from 0 to 2' }),
  max_output_tokens: int(1),
  max_rounds: int(1, 50),
  context_budget_tokens: int(1),
  max_offered_tools: int(1, 128),
};

/** One entry of an assistant's `variants:`. */
export const variantEntry = z.strictObject(
  {
    name,
    weight: int(0),
    ...z.object(profileKeys).partial().shape,
  },
  { error: 'expected a mapping' },
);

/** One entry of `assistants:`. */
export const assistantEntry = z.strictObject(
  {
    name,
    description: z.string({ error: 'expected a string' }).optional(),
    ...z.object(profileKeys).partial().shape,
    instructions: profileKeys.instructions,
    tenants: list(text('a tenant id'), 'tenant ids')
      .min(1, { error: 'expected at least one tenant (leave the key out to allow every tenant)' })
      .optional(),
    variants: list(variantEntry, 'variants')
      .min(1, { error: 'expected at least one variant (leave the key out for none)' })
      .optional(),
  },
  { error: 'expected a mapping' },
);

/** One value of `tenants:`. */
export const tenantEntry = z.strictObject(
  {
    default_assistant: name.optional(),
    tokens_per_day: int(1).optional(),
    concurrent_turns: int(1).optional(),
    chat_rate_per_sec: z
      .number({ error: 'expected a number > 0' })
      .positive({ error: 'expected a number > 0' })
      .optional(),
    chat_burst: int(1).optional(),
  },
  { error: 'expected a mapping' },
);

/** A whole assistants file. */
export const assistantsFile = z.strictObject(
  {
    models: list(modelBackendEntry, 'model backends').optional(),
    assistants: list(assistantEntry, 'assistants').optional(),
    default: name.optional(),
    tenants: z
      .record(z.string().min(1, { error: 'expected a tenant id' }), tenantEntry, {
        error: 'expected a mapping of tenant ids to their policies',
      })
      .optional(),
  },
  { error: 'expected a mapping with assistants:, default: and optionally models: and tenants:' },
);

/** The parsed (not yet resolved) file. */
export type AssistantsFileData = z.infer<typeof assistantsFile>;
/** One parsed assistant. */
export type AssistantEntry = z.infer<typeof assistantEntry>;
/** One parsed variant. */
export type VariantEntry = z.infer<typeof variantEntry>;
