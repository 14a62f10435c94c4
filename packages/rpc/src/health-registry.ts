import { EventEmitter, on } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import {
  type Health,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthListResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '@toolmesh/proto';

/** Serving status per service name; "" is the whole server. */
export interface HealthRegistry {
  /** Sets one service's status ("" for the server as a whole). */
  set(service: string, serving: boolean): void;
  /** Sets every known service, and the server, at once. */
  setAll(serving: boolean): void;
  /** The grpc.health.v1.Health implementation reading this registry. */
  readonly implementation: Partial<ServiceImpl<typeof Health>>;
}

/** Creates a health registry for the given service names, all NOT_SERVING until set. */
export function createHealthRegistry(serviceNames: string[]): HealthRegistry {
  const statuses = new Map<string, ServingStatus>([['', ServingStatus.NOT_SERVING]]);
  for (const name of serviceNames) statuses.set(name, ServingStatus.NOT_SERVING);
  const changes = new EventEmitter();
  changes.setMaxListeners(0);

  const set = (service: string, serving: boolean) => {
    const status = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    if (statuses.get(service) === status) return;
    statuses.set(service, status);
    changes.emit('change', service);
  };
  const response = (service: string): HealthCheckResponse =>
    create(HealthCheckResponseSchema, { status: statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN });

  return {
    set,
    setAll(serving) {
      for (const name of statuses.keys()) set(name, serving);
    },
    implementation: {
      check(req) {
        if (!statuses.has(req.service)) throw new ConnectError('unknown service', Code.NotFound);
        return response(req.service);
      },
      list() {
        const out = create(HealthListResponseSchema);
        for (const name of statuses.keys()) out.statuses[name] = response(name);
        return out;
      },
      async *watch(req, ctx) {
        let last = response(req.service);
        yield last;
        try {
          for await (const [service] of on(changes, 'change', { signal: ctx.signal })) {
            if (service !== req.service) continue;
            const next = response(req.service);
            if (next.status === last.status) continue;
            last = next;
            yield next;
          }
        } catch (error) {
          if (!ctx.signal.aborted) throw error;
        }
      },
    },
  };
}
