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
  const validate: ValidateFunction = ajv.compile(schema);
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
