import { RegistryService } from '@toolmesh/proto';
import { requireCredential, type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import { describeRegistry, type ToolRegistry } from './tools/index.ts';

/** RegistryService: the tool registry as the verified caller may see it (addresses to operators only). */
export function createRegistryService(registry: ToolRegistry): ServiceRegistration {
  return serviceRegistration(RegistryService, {
    listRegisteredTools(_req, ctx) {
      return describeRegistry(registry, requireCredential(ctx).principal);
    },
  });
}
