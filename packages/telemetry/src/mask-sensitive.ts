/** Field names masked everywhere, whatever a tool declares. */
export const alwaysSensitive: readonly string[] = [
  'password',
  'token',
  'access_token',
  'refresh_token',
  'secret',
  'api_key',
  'authorization',
  'card_number',
  'cvv',
];

const mask = '***';

/**
 * The one masking policy for logs, audit, traces and streamed events: values of
 * keys named in `fields` (or {@link alwaysSensitive}), at any depth, become "***".
 * Key names match case-insensitively; the structure is kept so the rest stays useful.
 */
export function maskSensitive(value: unknown, fields: readonly string[] = []): unknown {
  const names = new Set([...alwaysSensitive, ...fields].map((f) => f.toLowerCase()));
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 32) return mask;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    // Only plain objects are walked: errors, dates and buffers keep their own serialization.
    if (v && typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v))) {
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [k, names.has(k.toLowerCase()) ? mask : walk(x, depth + 1)]),
      );
    }
    return v;
  };
  return walk(value, 0);
}

/** {@link maskSensitive} on JSON text; text that is not JSON is withheld entirely. */
export function maskSensitiveJson(json: string, fields: readonly string[] = []): string {
  try {
    return JSON.stringify(maskSensitive(JSON.parse(json), fields));
  } catch {
    return JSON.stringify(mask);
  }
}
