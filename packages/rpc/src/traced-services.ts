import { Health, reflectionV1, reflectionV1alpha } from '@toolmesh/proto';

// Probes and reflection would fill the tracing backend with root traces of no interest;
// they are still counted in the metrics.
const untraced = new Set([
  Health.typeName,
  reflectionV1.ServerReflection.typeName,
  reflectionV1alpha.ServerReflection.typeName,
]);

/** False for the infrastructure services (health, reflection) that get no spans. */
export function isTracedService(typeName: string): boolean {
  return !untraced.has(typeName);
}
