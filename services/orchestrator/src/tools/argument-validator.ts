import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';

/** Checks a call's arguments against its tool's JSON Schema; returns a sanitized reason or undefined. */
export type ArgumentValidator = (args: unknown) => string | undefined;

const ajv = new Ajv2020({ allErrors: true, strict: false });
// ajv-formats is CommonJS: under ESM its plugin is the module's `default` property.
ajvFormats.default(ajv);

/**
 * Compiles a tool's published JSON Schema. Messages name the path and the rule,
 * never the offending value, so nothing the model sent is echoed into logs or replies.
 */
export function compileArgumentValidator(schema: Record<string, unknown>): ArgumentValidator {
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } finally {
    // ajv keeps every schema it compiled, by object and by `$id`: the registry compiles again at
    // every refresh, so kept schemas would grow without end, and a tool whose schema has an `$id`
    // would fail the next compile as a duplicate. The compiled function needs none of it.
    ajv.removeSchema(schema);
  }
  return (args) => {
    if (validate(args)) return undefined;
    return (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => {
        const extra =
          e.keyword === 'additionalProperties'
            ? ` (${String(e.params.additionalProperty).slice(0, 64)})`
            : '';
        return `${e.instancePath || '(arguments)'} ${e.message ?? 'is invalid'}${extra}`;
      })
      .join('; ');
  };
}

/**
 * Validators by schema text, for a registry that rebuilds itself on every refresh: a schema that
 * did not change is not compiled again. {@link ValidatorCache.sweep} forgets the ones no rebuild
 * asked for since the last sweep, so tools that left take their validators with them.
 */
export interface ValidatorCache {
  validatorFor(schemaJson: string, schema: Record<string, unknown>): ArgumentValidator;
  sweep(): void;
}

export function createValidatorCache(): ValidatorCache {
  let current = new Map<string, ArgumentValidator>();
  let previous = new Map<string, ArgumentValidator>();
  return {
    validatorFor(schemaJson, schema) {
      let validator = current.get(schemaJson) ?? previous.get(schemaJson);
      if (!validator) validator = compileArgumentValidator(schema);
      current.set(schemaJson, validator);
      return validator;
    },
    sweep() {
      previous = current;
      current = new Map();
    },
  };
}
