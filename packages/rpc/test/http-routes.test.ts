// Plain HTTP routes beside gRPC/Connect on one port: the exact path (query ignored) goes
// to its handler, everything else to the RPC services as before.
import { Writable } from 'node:stream';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { ToolService } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { createServer, type Server, serviceRegistration } from '../src/index.ts';

const logger = createLogger({
  service: 'rpc-http-routes-test',
  destination: new Writable({ write: (_chunk, _enc, cb) => cb() }),
});

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer({
    logger,
    protocols: 'all',
    services: [serviceRegistration(ToolService, { listTools: () => ({ tools: [{ name: 'echo' }] }) })],
    httpRoutes: [
      {
        path: '/mcp',
        handler: (req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ method: req.method, url: req.url }));
        },
      },
    ],
  });
  const port = await server.listen(0);
  server.health.setAll(true);
  base = `http://127.0.0.1:${port}`;
});

afterAll(() => server.shutdown(1_000));

test('a request for the route path reaches its handler, with or without a query', async () => {
  const res = await fetch(`${base}/mcp?x=1`, { method: 'POST', body: '{}' });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ method: 'POST', url: '/mcp?x=1' });
  expect(await (await fetch(`${base}/mcp`)).json()).toEqual({ method: 'GET', url: '/mcp' });
});

test('other paths are served by the RPC services as before', async () => {
  const client = createClient(ToolService, createGrpcTransport({ baseUrl: base }));
  expect((await client.listTools({})).tools.map((t) => t.name)).toEqual(['echo']);
  const other = await fetch(`${base}/mcp/other`, { method: 'POST' });
  expect(other.status).not.toBe(200);
});
