import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Clock } from '@toolmesh/clock';
import { type Principal, UsageService } from '@toolmesh/proto';
import {
  Code,
  type HandlerContext,
  publicError,
  requireCredential,
  type ServiceRegistration,
  serviceRegistration,
} from '@toolmesh/rpc';

/** Reading usage at all (the caller's own tenant). */
export const usageReadPermission = 'usage:read';
/** Reading the usage of every tenant. */
export const usageReadAllTenantsPermission = 'usage:read:all-tenants';

/** What {@link createUsageService} asks of the usage store. */
export interface UsageQuery {
  from: Date;
  to: Date;
  tenantId?: string;
  assistant?: string;
}

/** One group of turns: tenant, assistant, variant and model with their counts. */
export interface UsageSummaryRow {
  tenantId: string;
  assistant: string;
  variant: string;
  model: string;
  turns: number | bigint;
  conversations: number | bigint;
  promptTokens: number | bigint;
  completionTokens: number | bigint;
  totalTokens: number | bigint;
}

/** Options of {@link createUsageService}. */
export interface UsageServiceOptions {
  usage: { summarize(query: UsageQuery): Promise<readonly UsageSummaryRow[]> };
  /** "Now" of the default range. */
  clock: Clock;
  /** The verified caller; default the mesh credential's principal. */
  principalOf?: (ctx: HandlerContext) => Principal;
}

const dayMs = 24 * 60 * 60 * 1000;
/** The longest range one call may read (a quarter and a bit), so one call cannot scan the table. */
export const maxUsageRangeDays = 93;

// Filters are compared with stored names: control characters or an absurd length are malformed.
function checkFilter(name: string, value: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (value.length > 256 || /[\u0000-\u001f\u007f]/.test(value)) {
    throw publicError(Code.InvalidArgument, `invalid ${name}`);
  }
}

/**
 * UsageService: turns, conversations and tokens per tenant, assistant, variant and model over
 * [from, to) (default the last 24 hours, at most 93 days). Needs "usage:read" and reads the
 * caller's tenant; other tenants (a tenant_id filter, or none: all of them) need
 * "usage:read:all-tenants".
 */
export function createUsageService(options: UsageServiceOptions): ServiceRegistration {
  const principalOf = options.principalOf ?? ((ctx: HandlerContext) => requireCredential(ctx).principal);
  return serviceRegistration(UsageService, {
    async getUsage(req, ctx) {
      const principal = principalOf(ctx);
      if (!principal.permissions.includes(usageReadPermission)) {
        throw publicError(Code.PermissionDenied, `reading usage needs the permission ${usageReadPermission}`);
      }
      const allTenants = principal.permissions.includes(usageReadAllTenantsPermission);
      checkFilter('tenant_id', req.tenantId);
      checkFilter('assistant', req.assistant);
      if (!allTenants) {
        // Fail closed: a principal without a tenant reads nobody's usage.
        if (!principal.tenantId) throw publicError(Code.PermissionDenied, 'no tenant');
        if (req.tenantId && req.tenantId !== principal.tenantId) {
          throw publicError(
            Code.PermissionDenied,
            `reading another tenant's usage needs the permission ${usageReadAllTenantsPermission}`,
          );
        }
      }
      const to = req.to ? timestampDate(req.to) : new Date(options.clock.now());
      const from = req.from ? timestampDate(req.from) : new Date(to.getTime() - dayMs);
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
        throw publicError(Code.InvalidArgument, 'from and to must be valid timestamps');
      }
      if (to.getTime() <= from.getTime()) throw publicError(Code.InvalidArgument, 'to must be after from');
      if (to.getTime() - from.getTime() > maxUsageRangeDays * dayMs) {
        throw publicError(Code.InvalidArgument, `the range is at most ${maxUsageRangeDays} days`);
      }
      const tenantId = allTenants ? req.tenantId || undefined : principal.tenantId;
      const rows = await options.usage.summarize({
        from,
        to,
        ...(tenantId ? { tenantId } : {}),
        ...(req.assistant ? { assistant: req.assistant } : {}),
      });
      return {
        rows: rows.map((r) => ({
          tenantId: r.tenantId,
          assistant: r.assistant,
          variant: r.variant,
          model: r.model,
          turns: BigInt(r.turns),
          conversations: BigInt(r.conversations),
          promptTokens: BigInt(r.promptTokens),
          completionTokens: BigInt(r.completionTokens),
          totalTokens: BigInt(r.totalTokens),
        })),
      };
    },
  });
}
