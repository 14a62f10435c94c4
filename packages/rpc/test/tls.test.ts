// Mutual TLS on a server and its clients: only a certificate the mesh CA signed gets a
// stream; rotated files reach new connections on both sides without a restart.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { createManualClock } from '@toolmesh/clock';
import { tlsSettings } from '@toolmesh/config';
import { Health, HealthCheckResponse_ServingStatus as ServingStatus, ToolService } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { createTestPki } from '@toolmesh/testkit';
import {
  type ClientTlsSettings,
  Code,
  ConnectError,
  createClientPool,
  createGrpcClient,
  createServer,
  defaultTlsCheckIntervalMs,
  meshHttp2Limits,
  type Server,
  serviceRegistration,
  type TlsSettings,
} from '../src/index.ts';
import { createReloadingTransport } from '../src/tls/create-reloading-transport.ts';

const logLines: string[] = [];
const logger = createLogger({
  service: 'rpc-tls-test',
  level: 'debug',
  destination: new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  }),
});

const pki = createTestPki('toolmesh-tls-');
const file = pki.file;
const caNamed = pki.ca;
const issue = pki.issue;
const settings = (who: string, ca = 'ca'): TlsSettings => pki.files(who, ca);

// Calls that reached the application (the tool service's handler).
let handled = 0;
const tools = serviceRegistration(ToolService, {
  invokeTool(req) {
    handled++;
    return { outcome: { case: 'resultJson', value: req.argumentsJson } };
  },
});

const serverClock = createManualClock();
// The mesh's internal kind (grpc-js, gRPC only) and the public kind (connect-node, every protocol).
let server: Server;
let address: string;
let port: number;
let allServer: Server;
let allAddress: string;
let allPort: number;
let serverSerial: string;

beforeAll(async () => {
  caNamed('ca');
  caNamed('other-ca');
  serverSerial = issue('ca', 'server', 'server', 'IP:127.0.0.1,DNS:localhost');
  issue('ca', 'client', 'client');
  issue('other-ca', 'stranger', 'client');
  server = createServer({ logger, services: [tools], clock: serverClock, tls: settings('server') });
  port = await server.listen(0);
  address = `127.0.0.1:${port}`;
  server.health.setAll(true);
  allServer = createServer({
    logger,
    services: [tools],
    clock: serverClock,
    tls: settings('server'),
    protocols: 'all',
  });
  allPort = await allServer.listen(0);
  allAddress = `127.0.0.1:${allPort}`;
  allServer.health.setAll(true);
});

afterAll(async () => {
  await Promise.all([server.shutdown(1_000), allServer.shutdown(1_000)]);
  pki.remove();
});

const read = (name: string) => fs.readFileSync(file(name));

/** Code of a failed call; fails the test when the call succeeds. */
async function codeOf(call: Promise<unknown>): Promise<Code> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error).code;
  }
  throw new Error('the call succeeded');
}

/** Serial number of the certificate a new TLS connection to the server is shown. */
function peerSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: read('ca.crt'),
      cert: read('client.crt'),
      key: read('client.key'),
      ALPNProtocols: ['h2'],
    });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

test('a client with a certificate the CA signed calls over HTTP/2 with TLS', async () => {
  const health = createGrpcClient(Health, { address, tls: settings('client') });
  expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
  const before = handled;
  const client = createGrpcClient(ToolService, { address, tls: settings('client') });
  expect(await client.invokeTool({ toolName: 'echo', argumentsJson: '{"a":1}' })).toMatchObject({
    outcome: { case: 'resultJson', value: '{"a":1}' },
  });
  expect(handled).toBe(before + 1);
  // By the name in its certificate too, as a Service DNS name would be used.
  const byName = createGrpcClient(Health, { address: `localhost:${port}`, tls: settings('client') });
  expect((await byName.check({ service: '' })).status).toBe(ServingStatus.SERVING);
  // A pool dialling addresses (pod IPs of DNS discovery) checks each against a name of its own.
  const names = new Map([[address, 'localhost']]);
  const pool = createClientPool(Health, { tls: { ...settings('client'), serverName: (a) => names.get(a) } });
  expect((await pool(address).check({ service: '' })).status).toBe(ServingStatus.SERVING);
});

test('Connect over HTTP/1.1 (ALPN http/1.1) works on an all-protocols TLS port, with a client certificate', async () => {
  const transport = createConnectTransport({
    baseUrl: `https://${allAddress}`,
    httpVersion: '1.1',
    nodeOptions: { ca: read('ca.crt'), cert: read('client.crt'), key: read('client.key') },
  });
  const health = createClient(Health, transport);
  expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
});

test('without ALPN, a TLS client is told apart by its first bytes, as on the plaintext port', async () => {
  const socket = tls.connect({
    host: '127.0.0.1',
    port: allPort,
    ca: read('ca.crt'),
    cert: read('client.crt'),
    key: read('client.key'),
  });
  const body = '{"service":""}';
  socket.write(
    `POST /grpc.health.v1.Health/Check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
      `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const answer = Buffer.concat(chunks).toString();
  expect(answer).toMatch(/^HTTP\/1\.1 200/);
  expect(answer).toContain('"status":"SERVING"');
});

test('both kinds of TLS listener advertise the same HTTP/2 bounds', async () => {
  for (const at of [address, allAddress]) {
    const session = http2.connect(`https://${at}`, {
      ca: read('ca.crt'),
      cert: read('client.crt'),
      key: read('client.key'),
    });
    const settings = await new Promise<http2.Settings>((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', reject);
    });
    session.close();
    expect(settings.maxConcurrentStreams).toBe(meshHttp2Limits.maxConcurrentStreams);
    expect(settings.maxHeaderListSize).toBe(meshHttp2Limits.maxHeaderListSize);
  }
});

test('a client without a certificate cannot open a stream: a TLS error, the handler never runs', async () => {
  const before = handled;
  const noCert = createClient(
    ToolService,
    createGrpcTransport({ baseUrl: `https://${address}`, nodeOptions: { ca: read('ca.crt') } }),
  );
  // TLS 1.3: the server's alert arrives after the client's half of the handshake, as the call's error.
  await expect(noCert.invokeTool({ toolName: 'echo', argumentsJson: '{}' })).rejects.toThrow(
    /alert certificate required/,
  );
  // Plaintext h2c to the TLS port is not TLS at all: the server drops the connection, which our
  // client (grpc-js) reports as UNAVAILABLE.
  const plaintext = createGrpcClient(ToolService, { address });
  expect(await codeOf(plaintext.invokeTool({ toolName: 'echo', argumentsJson: '{}' }))).toBe(
    Code.Unavailable,
  );
  expect(handled).toBe(before);
});

test('a certificate from another CA is refused, and so is a server the client does not trust', async () => {
  const before = handled;
  const stranger = createGrpcClient(ToolService, { address, tls: settings('stranger') });
  expect(await codeOf(stranger.invokeTool({ toolName: 'echo', argumentsJson: '{}' }))).toBe(Code.Unavailable);
  // The client's side of "mutual": a client trusting only the other CA does not talk to this server.
  const distrustful = createGrpcClient(ToolService, { address, tls: settings('client', 'other-ca') });
  expect(await codeOf(distrustful.invokeTool({ toolName: 'echo', argumentsJson: '{}' }))).toBe(
    Code.Unavailable,
  );
  // A name the server's certificate does not carry.
  const wrongName: ClientTlsSettings = { ...settings('client'), serverName: 'orchestrator.internal' };
  const misnamed = createGrpcClient(ToolService, { address, tls: wrongName });
  expect(await codeOf(misnamed.invokeTool({ toolName: 'echo', argumentsJson: '{}' }))).toBe(Code.Unavailable);
  expect(handled).toBe(before);
  expect(logLines.some((l) => l.includes('TLS handshake refused'))).toBe(true);
});

test('the server takes re-signed files at its next check: new connections see the new certificate', async () => {
  const client = createGrpcClient(ToolService, { address, tls: settings('client') });
  await client.invokeTool({ toolName: 'echo', argumentsJson: '{}' });
  expect(await peerSerial()).toBe(serverSerial);

  const rotated = issue('ca', 'server', 'server', 'IP:127.0.0.1,DNS:localhost');
  expect(rotated).not.toBe(serverSerial);
  // Until the check, the server still presents what it read.
  expect(await peerSerial()).toBe(serverSerial);
  await serverClock.advance(defaultTlsCheckIntervalMs);
  expect(await peerSerial()).toBe(rotated);
  expect(logLines.some((l) => l.includes('TLS certificate, key and CA files changed'))).toBe(true);
  // The established connection carries on, and new clients call as before.
  await client.invokeTool({ toolName: 'echo', argumentsJson: '{}' });
  const fresh = createGrpcClient(Health, { address, tls: settings('client') });
  expect((await fresh.check({ service: '' })).status).toBe(ServingStatus.SERVING);
  // The new context still asks for, and checks, a client certificate.
  const stranger = createGrpcClient(Health, { address, tls: settings('stranger') });
  expect(await codeOf(stranger.check({ service: '' }))).toBe(Code.Unavailable);
  serverSerial = rotated;
});

test('a rotation caught half-way (new certificate, old key) is not taken until the key follows', async () => {
  const previous = { crt: read('server.crt'), key: read('server.key') };
  const next = issue('ca', 'server', 'server', 'IP:127.0.0.1,DNS:localhost');
  const nextKey = read('server.key');
  fs.writeFileSync(file('server.key'), previous.key);
  await serverClock.advance(defaultTlsCheckIntervalMs);
  expect(await peerSerial()).toBe(serverSerial);
  expect(logLines.some((l) => l.includes('changed TLS files not taken'))).toBe(true);

  fs.writeFileSync(file('server.key'), nextKey);
  await serverClock.advance(defaultTlsCheckIntervalMs);
  expect(await peerSerial()).toBe(next);
  serverSerial = next;
  expect(previous.crt.equals(read('server.crt'))).toBe(false);
});

test('a client takes rotated files for its next connection, after its check interval', async () => {
  const clock = createManualClock();
  // Its own copy of the files, so that rotating them touches no other test's client.
  for (const ext of ['crt', 'key']) fs.copyFileSync(file(`client.${ext}`), file(`rotating.${ext}`));
  const pool = createClientPool(ToolService, { tls: settings('rotating'), clock });
  const client = pool(address);
  await client.invokeTool({ toolName: 'echo', argumentsJson: '{}' });

  // The CA no longer vouches for the rotated certificate: the next connection must fail.
  for (const ext of ['crt', 'key']) fs.copyFileSync(file(`stranger.${ext}`), file(`rotating.${ext}`));
  // Until the interval has passed, the client does not look and keeps its connection.
  await client.invokeTool({ toolName: 'echo', argumentsJson: '{}' });
  await clock.advance(defaultTlsCheckIntervalMs);
  expect(await codeOf(client.invokeTool({ toolName: 'echo', argumentsJson: '{}' }))).toBe(Code.Unavailable);

  issue('ca', 'rotating', 'client');
  await clock.advance(defaultTlsCheckIntervalMs);
  await client.invokeTool({ toolName: 'echo', argumentsJson: '{}' });
  // Another address of the same pool shares the files and their version.
  expect(
    (await pool(`localhost:${port}`).invokeTool({ toolName: 'echo', argumentsJson: '{}' })).outcome.case,
  ).toBe('resultJson');
});

test('missing or mismatched files fail at construction with the file named', () => {
  expect(() =>
    createGrpcClient(Health, { address, tls: { ...settings('client'), certFile: file('nope.crt') } }),
  ).toThrow(/cannot read TLS certificate file .*nope\.crt/);
  expect(() =>
    createServer({ logger, services: [], tls: { ...settings('server'), keyFile: file('client.key') } }),
  ).toThrow(/unusable TLS files/);
});

test('TOOLMESH_TLS_*: all three turn TLS on, none leaves it off, some is an error naming the rest', () => {
  expect(
    tlsSettings({
      TOOLMESH_TLS_CERT_FILE: '/c.crt',
      TOOLMESH_TLS_KEY_FILE: '/c.key',
      TOOLMESH_TLS_CA_FILE: '/ca.crt',
    }),
  ).toEqual({ certFile: '/c.crt', keyFile: '/c.key', caFile: '/ca.crt' });
  expect(tlsSettings({})).toBeUndefined();
  expect(() => tlsSettings({ TOOLMESH_TLS_CERT_FILE: '/c.crt' })).toThrow(
    'invalid TLS configuration: TOOLMESH_TLS_CERT_FILE set but TOOLMESH_TLS_KEY_FILE, TOOLMESH_TLS_CA_FILE not',
  );
});

test('a retired connection is closed once the calls running on it have ended', async () => {
  const clock = createManualClock();
  let version = 1;
  const files = {
    current: () => ({ version, cert: Buffer.alloc(0), key: Buffer.alloc(0), ca: Buffer.alloc(0) }),
    refresh: () => true,
  };
  const closed: number[] = [];
  const pending: (() => void)[] = [];
  const transport = createReloadingTransport({
    address: 'test:1',
    files,
    clock,
    build: (material) => ({
      transport: {
        unary: () =>
          new Promise((resolve) => {
            pending.push(() => resolve({ built: material.version } as never));
          }),
        stream: () => Promise.reject(new Error('unused')),
      },
      close: () => closed.push(material.version),
    }),
  });
  const call = () => transport.unary(Health.method.check, undefined, undefined, undefined, {});
  const first = call();
  version = 2;
  await clock.advance(defaultTlsCheckIntervalMs);
  const second = call();
  // The first call still runs on the old connection: it stays open.
  expect(closed).toEqual([]);
  for (const finish of pending.splice(0)) finish();
  expect(await first).toEqual({ built: 1 });
  expect(await second).toEqual({ built: 2 });
  expect(closed).toEqual([1]);
  // Idle when retired: closed at once.
  version = 3;
  await clock.advance(defaultTlsCheckIntervalMs);
  const third = call();
  expect(closed).toEqual([1, 2]);
  for (const finish of pending.splice(0)) finish();
  expect(await third).toEqual({ built: 3 });
});

test("the containers' health check dials TLS with the container's own files, and fails without them", async () => {
  const healthCheck = fileURLToPath(new URL('../../../deploy/docker/health-check.ts', import.meta.url));
  const run = (env: NodeJS.ProcessEnv) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [healthCheck], {
        env: { PATH: process.env.PATH, PORT: String(port), ...env },
        stdio: 'ignore',
      });
      child.once('exit', resolve);
    });
  const own = settings('client');
  expect(
    await run({
      TOOLMESH_TLS_CERT_FILE: own.certFile,
      TOOLMESH_TLS_KEY_FILE: own.keyFile,
      TOOLMESH_TLS_CA_FILE: own.caFile,
    }),
  ).toBe(0);
  expect(await run({})).not.toBe(0);
});
