import type { DescMethod } from '@bufbuild/protobuf';
import type { Interceptor } from '@connectrpc/connect';
import { Counter, Histogram, type Registry } from '@toolmesh/telemetry';
import { grpcCodeName } from './grpc-status.ts';
import { observeStream } from './observe-stream.ts';

// The names, labels and help texts of go-grpc-prometheus, so existing dashboards and
// alerts work unchanged. Services and methods come from the descriptors a server routes
// or a client was generated for, never from the wire: the label sets stay bounded.
const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'] as const;
const handledLabelNames = [...labelNames, 'grpc_code'] as const;
// go-grpc-prometheus' default (Prometheus' DefBuckets) stops at 10 s; a chat turn may
// take up to its 120 s deadline.
const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

type Labels = Record<(typeof labelNames)[number], string>;

interface Families {
  started: Counter<(typeof labelNames)[number]>;
  handled: Counter<(typeof handledLabelNames)[number]>;
  received: Counter<(typeof labelNames)[number]>;
  sent: Counter<(typeof labelNames)[number]>;
  seconds: Histogram<(typeof labelNames)[number]>;
}

function families(side: 'server' | 'client', registry: Registry): Families {
  const who = side === 'server' ? 'on the server' : 'by the client';
  const registers = [registry];
  return {
    started: new Counter({
      name: `grpc_${side}_started_total`,
      help: `Total number of RPCs started ${side === 'server' ? 'on the server' : 'on the client'}.`,
      labelNames,
      registers,
    }),
    handled: new Counter({
      name: `grpc_${side}_handled_total`,
      help: `Total number of RPCs completed ${who}, regardless of success or failure.`,
      labelNames: handledLabelNames,
      registers,
    }),
    received: new Counter({
      name: `grpc_${side}_msg_received_total`,
      help: `Total number of RPC stream messages received ${side === 'server' ? 'on the server' : 'by the client'}.`,
      labelNames,
      registers,
    }),
    sent: new Counter({
      name: `grpc_${side}_msg_sent_total`,
      help: `Total number of gRPC stream messages sent by the ${side}.`,
      labelNames,
      registers,
    }),
    seconds: new Histogram({
      name: `grpc_${side}_handling_seconds`,
      help:
        side === 'server'
          ? 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.'
          : 'Histogram of response latency (seconds) of the gRPC until it is finished by the application.',
      labelNames,
      buckets,
      registers,
    }),
  };
}

// prom-client refuses a second metric of the same name in a registry: one set per registry and side.
const bySide = { server: new WeakMap<Registry, Families>(), client: new WeakMap<Registry, Families>() };

function familiesOf(side: 'server' | 'client', registry: Registry): Families {
  let found = bySide[side].get(registry);
  if (!found) {
    found = families(side, registry);
    bySide[side].set(registry, found);
  }
  return found;
}

const grpcTypes: Record<DescMethod['methodKind'], string> = {
  unary: 'unary',
  server_streaming: 'server_stream',
  client_streaming: 'client_stream',
  bidi_streaming: 'bidi_stream',
};

const labelsOf = (method: DescMethod): Labels => ({
  grpc_type: grpcTypes[method.methodKind],
  grpc_service: method.parent.typeName,
  grpc_method: method.name,
});

function meter(side: 'server' | 'client', registry: Registry): Interceptor {
  const m = familiesOf(side, registry);
  // The server receives requests and sends responses; the client the other way round.
  const [countRequest, countResponse] = side === 'server' ? [m.received, m.sent] : [m.sent, m.received];
  return (next) => async (req) => {
    const labels = labelsOf(req.method);
    m.started.inc(labels);
    const started = performance.now();
    const done = (error?: unknown) => {
      m.handled.inc({ ...labels, grpc_code: grpcCodeName(error) });
      m.seconds.observe(labels, (performance.now() - started) / 1000);
    };
    let request = req;
    if (req.stream) {
      const message = observeStream(req.message, {
        onMessage: () => countRequest.inc(labels),
        onEnd: () => {},
      });
      request = { ...req, message };
    } else {
      countRequest.inc(labels);
    }
    try {
      const res = await next(request);
      if (!res.stream) {
        countResponse.inc(labels);
        done();
        return res;
      }
      return {
        ...res,
        message: observeStream(res.message, {
          onMessage: () => countResponse.inc(labels),
          onEnd: done,
          signal: req.signal,
        }),
      };
    } catch (error) {
      done(error);
      throw error;
    }
  };
}

/** go-grpc-prometheus' grpc_server_* series of every call a server handles, recorded into `registry`. */
export function createServerMetricsInterceptor(registry: Registry): Interceptor {
  return meter('server', registry);
}

/**
 * Records into `registry` a call the server answered before its interceptors ran (an early
 * refusal of createServer): the series and labels the interceptor gives the same call — started,
 * its one request message received, handled with the error's code, and the time it took.
 */
export function recordServerCallAnsweredEarly(
  registry: Registry,
  method: DescMethod,
  error: unknown,
  seconds: number,
): void {
  const m = familiesOf('server', registry);
  const labels = labelsOf(method);
  m.started.inc(labels);
  m.received.inc(labels);
  m.handled.inc({ ...labels, grpc_code: grpcCodeName(error) });
  m.seconds.observe(labels, seconds);
}

/** go-grpc-prometheus' grpc_client_* series of every call a client makes, recorded into `registry`. */
export function createClientMetricsInterceptor(registry: Registry): Interceptor {
  return meter('client', registry);
}
