// What one client connection may make a server hold: concurrent streams, session memory and
// header size are bounded on every listener, tighter on a public one.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '@toolmesh/telemetry';
import { waitFor } from '@toolmesh/testkit';
import {
  createProtocolListener,
  createServer,
  meshHttp2Limits,
  type ProtocolListener,
  publicHttp2Limits,
  type RequestHandler,
} from '../src/index.ts';

const logger = createLogger({
  service: 'rpc-listener-bounds-test',
  destination: new Writable({ write: (_chunk, _enc, cb) => cb() }),
});

const open: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const o of open.reverse()) await o.close();
});

/** Settings a fresh HTTP/2 connection is told by the server at `port`. */
async function settingsOf(port: number): Promise<http2.Settings> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', reject);
    });
  } finally {
    session.close();
  }
}

test('every server advertises the mesh bounds; a public one the tighter public bounds', async () => {
  const mesh = createServer({ logger, services: [] });
  const meshPort = await mesh.listen(0);
  const pub = createServer({ logger, services: [], limits: publicHttp2Limits });
  const pubPort = await pub.listen(0);
  open.push({ close: () => mesh.shutdown(1_000) }, { close: () => pub.shutdown(1_000) });

  expect(await settingsOf(meshPort)).toMatchObject({
    maxConcurrentStreams: meshHttp2Limits.maxConcurrentStreams,
    maxHeaderListSize: meshHttp2Limits.maxHeaderListSize,
  });
  const advertised = await settingsOf(pubPort);
  expect(advertised.maxConcurrentStreams).toBe(100);
  expect(advertised.maxHeaderListSize).toBe(16 * 1024);
  // Bounded, where Node's default is 2^32 - 1 streams.
  expect(meshHttp2Limits.maxConcurrentStreams).toBeLessThan(
    http2.getDefaultSettings().maxConcurrentStreams ?? 0,
  );
});

/** A listener whose handler counts requests and answers none until released. */
async function holdingListener(limits: Parameters<typeof createProtocolListener>[0]['limits']) {
  const held: http2.Http2ServerResponse[] = [];
  let arrived = 0;
  const handler = ((_req: unknown, res: http2.Http2ServerResponse | http.ServerResponse) => {
    arrived++;
    held.push(res as http2.Http2ServerResponse);
  }) as RequestHandler;
  const listener: ProtocolListener = createProtocolListener({ handler, limits });
  const port = await listener.listen(0, '127.0.0.1');
  open.push({
    close: () => {
      for (const res of held) res.end();
      listener.destroyAll();
      return listener.close();
    },
  });
  return {
    port,
    arrived: () => arrived,
    releaseAll: () => {
      for (const res of held.splice(0)) res.end('done');
    },
  };
}

test('a client with more streams than allowed has the extra ones wait until a slot frees', async () => {
  const server = await holdingListener({ maxConcurrentStreams: 2 });
  const session = http2.connect(`http://127.0.0.1:${server.port}`);
  await new Promise((resolve) => session.once('remoteSettings', resolve));
  expect(session.remoteSettings.maxConcurrentStreams).toBe(2);

  const answers = [1, 2, 3].map(
    () =>
      new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/' });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.end();
        stream.resume();
      }),
  );
  await waitFor(() => server.arrived() === 2, { what: 'two streams to reach the handler' });
  // A PING is answered after every frame sent before it: had the third HEADERS been
  // sent, the server would have seen it by now.
  await new Promise((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve(true))));
  expect(server.arrived()).toBe(2);

  server.releaseAll();
  await waitFor(() => server.arrived() === 3, { what: 'the waiting stream to reach the handler' });
  server.releaseAll();
  expect(await Promise.all(answers)).toEqual([200, 200, 200]);
  session.close();
});

// HTTP/2 frames written by hand, for a client that ignores the server's SETTINGS.
const frame = (type: number, flags: number, streamId: number, payload: Buffer) => {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
};
// HPACK: :method POST, :scheme http, :path / (static table), :authority "x" (literal).
const requestHeaders = Buffer.from([0x83, 0x86, 0x84, 0x01, 0x01, 0x78]);
const [SETTINGS, HEADERS, RST_STREAM] = [0x4, 0x1, 0x3];
const END_STREAM_AND_HEADERS = 0x5;
const REFUSED_STREAM = 0x7;

test('a client that opens more streams than allowed anyway has them refused, unprocessed', async () => {
  const server = await holdingListener({ maxConcurrentStreams: 2 });
  const socket = net.connect(server.port, '127.0.0.1');
  const reset = new Promise<{ streamId: number; code: number }>((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        if (buffered[3] === RST_STREAM) {
          resolve({ streamId: buffered.readUInt32BE(5) & 0x7fffffff, code: buffered.readUInt32BE(9) });
        }
        buffered = buffered.subarray(9 + length);
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed without RST_STREAM')));
  });
  // Three requests at once, without waiting for the server's SETTINGS.
  socket.write(
    Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      frame(SETTINGS, 0, 0, Buffer.alloc(0)),
      frame(HEADERS, END_STREAM_AND_HEADERS, 1, requestHeaders),
      frame(HEADERS, END_STREAM_AND_HEADERS, 3, requestHeaders),
      frame(HEADERS, END_STREAM_AND_HEADERS, 5, requestHeaders),
    ]),
  );
  expect(await reset).toEqual({ streamId: 5, code: REFUSED_STREAM });
  expect(server.arrived()).toBe(2);
  socket.destroy();
});

test('a header section past the bound is refused before the handler, over HTTP/2 and HTTP/1.1', async () => {
  const server = await holdingListener(publicHttp2Limits);
  const big = 'x'.repeat(publicHttp2Limits.maxHeaderListSize + 1024);

  const session = http2.connect(`http://127.0.0.1:${server.port}`);
  session.on('error', () => {});
  // The bound holds from the server's SETTINGS on, which the client acknowledges before it
  // sends the request (before that, Node's default of 64 KiB applies).
  await new Promise((resolve) => session.once('remoteSettings', resolve));
  const rstCode = await new Promise<number>((resolve) => {
    const stream = session.request({ ':method': 'POST', ':path': '/', 'x-big': big });
    stream.on('error', () => {});
    stream.on('close', () => resolve(stream.rstCode ?? -1));
    stream.end();
  });
  expect(rstCode).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  session.destroy();

  const h1Status = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method: 'POST', path: '/', headers: { 'x-big': big } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
  expect(h1Status).toBe(431);
  expect(server.arrived()).toBe(0);
});
