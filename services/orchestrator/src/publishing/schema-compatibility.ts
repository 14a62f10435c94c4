type Schema = { properties?: Record<string, unknown>; required?: unknown };

const requiredOf = (schema: Schema) =>
  new Set(Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === 'string') : []);

/**
 * Why arguments valid for `older` may be refused by `newer` (top-level fields of the
 * arguments object): a field the older schema declared that the newer one dropped, and a
 * field the newer one requires that the older did not. Empty: compatible. Callers built for
 * the older version keep working only when nothing is listed.
 */
export function schemaIncompatibilities(older: Schema, newer: Schema): string[] {
  const problems: string[] = [];
  const newProperties = newer.properties ?? {};
  for (const field of Object.keys(older.properties ?? {})) {
    if (!(field in newProperties)) problems.push(`field "${field}" removed`);
  }
  const wasRequired = requiredOf(older);
  for (const field of requiredOf(newer)) {
    if (!wasRequired.has(field)) problems.push(`field "${field}" newly required`);
  }
  return problems;
}
