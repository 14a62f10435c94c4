// createServer's earlyRefusal, on a real port: only plain gRPC calls of its methods are offered to
// it; what it refuses (at once or after a promise) is answered trailers-only and read back by a
// client like any status; what it leaves, and whatever it fails on, is served as usual.
import { Writable } from 'node:stream';
import { createClient } from '@connectrpc/connect';
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from '@connectrpc/connect-node';
import { ChatService } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import {
  Code,
  ConnectError,
  createServer,
  type EarlyRefusal,
  errorFor,
  readErrorInfo,
  type Server,
  serviceRegistration,
} from '../src/index.ts';

const logger = createLogger({
  service: 'rpc-early-refusal-test',
  destination: new Writable({ write: (_chunk, _enc, cb) => cb() }),
});

// The request header x-refuse says what `refuse` does: sync, async, reject, throw, or nothing.
const offered: string[] = [];
const refusal: EarlyRefusal = {
  methods: [ChatService.method.chat],
  refuse(headers) {
    const how = String(headers['x-refuse'] ?? '');
    offered.push(how);
    const error = errorFor('OVERLOADED', { retryAfterMs: 700, metadata: { service: 'test' } });
    if (how === 'sync') return error;
    if (how === 'async') return Promise.resolve(error);
    if (how === 'reject') return Promise.reject(new Error('cannot tell'));
    if (how === 'throw') throw new Error('cannot tell');
    return undefined;
  },
};

let handled = 0;
const server: Server = createServer({
  logger,
  protocols: 'all',
  earlyRefusal: refusal,
  services: [
    serviceRegistration(ChatService, {
      async chat() {
        handled++;
        return { reply: 'served' };
      },
      async *chatStream() {
        handled++;
        yield {};
      },
    }),
  ],
});
let baseUrl: string;

beforeAll(async () => {
  baseUrl = `http://127.0.0.1:${await server.listen(0)}`;
});
afterAll(() => server.shutdown(100));
beforeEach(() => {
  offered.length = 0;
});

const grpc = () => createClient(ChatService, createGrpcTransport({ baseUrl }));
const settle = <T>(call: Promise<T>) =>
  call.then(
    (value) => value,
    (e: unknown) => ConnectError.from(e),
  );

test('refused at once or after a promise: the status, its details and the boundary mark reach the client', async () => {
  for (const how of ['sync', 'async']) {
    const before = handled;
    const refused = await settle(grpc().chat({ message: 'hi' }, { headers: { 'x-refuse': how } }));
    expect(refused).toBeInstanceOf(ConnectError);
    const error = refused as ConnectError;
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(readErrorInfo(error)).toEqual({
      reason: 'OVERLOADED',
      domain: 'toolmesh',
      metadata: { service: 'test' },
      retryAfterMs: 700,
    });
    expect(error.metadata.get('toolmesh-error-sanitized')).toBe('1');
    expect(handled).toBe(before);
  }
  expect(offered).toEqual(['sync', 'async']);
});

test('left alone, or when refuse fails, the call is served as usual', async () => {
  for (const how of ['', 'reject', 'throw']) {
    const res = await grpc().chat({ message: 'hi' }, { headers: how ? { 'x-refuse': how } : {} });
    expect(res.reply).toBe('served');
  }
  expect(offered).toEqual(['', 'reject', 'throw']);
});

test('other methods, gRPC-Web and Connect are never offered to it', async () => {
  const headers = { 'x-refuse': 'sync' };
  for await (const _ of grpc().chatStream({ message: 'hi' }, { headers })) {
    // drained
  }
  for (const transport of [
    createGrpcWebTransport({ baseUrl, httpVersion: '2' }),
    createGrpcWebTransport({ baseUrl, httpVersion: '1.1' }),
    createConnectTransport({ baseUrl, httpVersion: '2' }),
    createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: false }),
  ]) {
    expect((await createClient(ChatService, transport).chat({ message: 'hi' }, { headers })).reply).toBe(
      'served',
    );
  }
  expect(offered).toEqual([]);
});

test('a gRPC-only server (grpc-js) refuses the option', () => {
  expect(() => createServer({ logger, earlyRefusal: refusal, services: [] })).toThrow(/earlyRefusal/);
});
