import type { DescEnum } from '@bufbuild/protobuf';

/** "BREAKER_STATE_HALF_OPEN" → "half-open": an enum value as a person reads it. */
export function enumLabel(schema: DescEnum, value: number): string {
  const local = schema.value[value]?.localName;
  return local ? local.toLowerCase().replace(/_/g, '-') : String(value);
}
