import { Writable } from 'node:stream';
import { create, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  Health,
  reflectionV1,
  reflectionV1alpha,
  HealthCheckResponse_ServingStatus as ServingStatus,
  ToolService,
} from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import {
  createGrpcClient,
  createServer,
  publicError,
  type Server,
  serviceRegistration,
} from '../src/index.ts';

const logLines: string[] = [];
const logger = createLogger({
  service: 'rpc-test',
  destination: new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  }),
});

let server: Server;
let address: string;

beforeAll(async () => {
  server = createServer({
    logger,
    services: [
      serviceRegistration(ToolService, {
        listTools() {
          throw new Error('secret connection string postgres://admin:hunter2@db');
        },
        invokeTool(req) {
          if (req.toolName === 'public') throw publicError(Code.NotFound, 'no such tool');
          return { outcome: { case: 'resultJson', value: '{}' } };
        },
      }),
    ],
  });
  const port = await server.listen(0);
  address = `127.0.0.1:${port}`;
  server.health.setAll(true);
});

afterAll(() => server.shutdown(1_000));

async function reflect<T extends typeof reflectionV1 | typeof reflectionV1alpha>(
  api: T,
  request: Parameters<typeof create<T['ServerReflectionRequestSchema']>>[1],
) {
  const client = createGrpcClient(api.ServerReflection, { address });
  async function* requests() {
    yield create(api.ServerReflectionRequestSchema, request);
  }
  // The request stream ends after one request, so the server ends the call: read it to the end.
  const responses = [];
  for await (const res of client.serverReflectionInfo(requests())) responses.push(res);
  if (responses[0]) return responses[0];
  throw new Error('no reflection response');
}

test('health reports SERVING for the server and each service, NOT_SERVING after setAll(false)', async () => {
  const health = createGrpcClient(Health, { address });
  expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
  expect((await health.check({ service: 'toolmesh.v1.ToolService' })).status).toBe(ServingStatus.SERVING);
  await expect(health.check({ service: 'nope.Service' })).rejects.toMatchObject({ code: Code.NotFound });
  server.health.set('toolmesh.v1.ToolService', false);
  expect((await health.check({ service: 'toolmesh.v1.ToolService' })).status).toBe(ServingStatus.NOT_SERVING);
  server.health.set('toolmesh.v1.ToolService', true);
});

test.each([
  ['v1', reflectionV1],
  ['v1alpha', reflectionV1alpha],
] as const)(
  'reflection %s lists services and resolves symbols with their dependencies',
  async (_name, api) => {
    const list = await reflect(api, { messageRequest: { case: 'listServices', value: '' } });
    expect(list.messageResponse.case).toBe('listServicesResponse');
    const names =
      list.messageResponse.case === 'listServicesResponse'
        ? list.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(names).toEqual(
      expect.arrayContaining([
        'toolmesh.v1.ToolService',
        'grpc.health.v1.Health',
        `grpc.reflection.${_name}.ServerReflection`,
      ]),
    );

    const file = await reflect(api, {
      messageRequest: { case: 'fileContainingSymbol', value: 'toolmesh.v1.InvokeToolRequest' },
    });
    expect(file.messageResponse.case).toBe('fileDescriptorResponse');
    if (file.messageResponse.case !== 'fileDescriptorResponse') return;
    const protos = file.messageResponse.value.fileDescriptorProto.map((b) =>
      fromBinary(FileDescriptorProtoSchema, b),
    );
    const dependenciesFirst = [...protos].reverse();
    expect(protos[0]?.name).toBe('toolmesh/v1/tool.proto');
    // The answer is self-contained: a registry built from it resolves the message and its fields.
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: dependenciesFirst }));
    const message = registry.getMessage('toolmesh.v1.InvokeToolRequest');
    expect(message?.fields.map((f) => f.name)).toContain('idempotency_key');

    const missing = await reflect(api, {
      messageRequest: { case: 'fileContainingSymbol', value: 'no.Such' },
    });
    expect(missing.messageResponse.case).toBe('errorResponse');
  },
);

test('the error boundary passes public errors and hides internal ones', async () => {
  const client = createGrpcClient(ToolService, { address });
  await expect(client.invokeTool({ toolName: 'public' })).rejects.toMatchObject({
    code: Code.NotFound,
    rawMessage: 'no such tool',
  });
  const error = await client.listTools({}).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConnectError);
  expect((error as ConnectError).code).toBe(Code.Internal);
  expect((error as ConnectError).rawMessage).toBe('internal error');
  expect(logLines.join('')).toContain('hunter2');
});
