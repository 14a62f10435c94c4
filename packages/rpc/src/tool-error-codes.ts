import { ToolErrorCode } from '@toolmesh/proto';

/** The error taxonomy by name, as callers and the model see it in `error_code`. */
export type ToolErrorName =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'PERMISSION_DENIED'
  | 'FAILED_PRECONDITION'
  | 'CONFLICT'
  | 'TIMEOUT'
  | 'UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'INTERNAL';

const byName: Record<ToolErrorName, ToolErrorCode> = {
  INVALID_ARGUMENT: ToolErrorCode.INVALID_ARGUMENT,
  NOT_FOUND: ToolErrorCode.NOT_FOUND,
  PERMISSION_DENIED: ToolErrorCode.PERMISSION_DENIED,
  FAILED_PRECONDITION: ToolErrorCode.FAILED_PRECONDITION,
  CONFLICT: ToolErrorCode.CONFLICT,
  TIMEOUT: ToolErrorCode.TIMEOUT,
  UNAVAILABLE: ToolErrorCode.UNAVAILABLE,
  RATE_LIMITED: ToolErrorCode.RATE_LIMITED,
  INTERNAL: ToolErrorCode.INTERNAL,
};
const byCode = new Map<ToolErrorCode, ToolErrorName>(
  Object.entries(byName).map(([name, code]) => [code, name as ToolErrorName]),
);

/** Wire enum value of a taxonomy name. */
export function toolErrorCode(name: ToolErrorName): ToolErrorCode {
  return byName[name];
}

/** Taxonomy name of a wire enum value; unknown values count as INTERNAL. */
export function toolErrorName(code: ToolErrorCode): ToolErrorName {
  return byCode.get(code) ?? 'INTERNAL';
}
