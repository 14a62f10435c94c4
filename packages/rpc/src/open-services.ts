import { Health, reflectionV1, reflectionV1alpha } from '@toolmesh/proto';

// Probes and grpcurl's reflection answer without credentials: they hold no user data.
const open = new Set<string>([
  Health.typeName,
  reflectionV1.ServerReflection.typeName,
  reflectionV1alpha.ServerReflection.typeName,
]);

/** Whether calls of a service are answered without a credential (health and reflection only). */
export function isOpenService(typeName: string): boolean {
  return open.has(typeName);
}
