import { Code, ConnectError } from '@connectrpc/connect';
import { Health } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { freePort } from '@toolmesh/testkit';
import { createGrpcClient, createResilienceInterceptor, createServer } from '../src/index.ts';

const logger = createLogger({ service: 'test', level: 'silent' });

test('a request that was never sent is retried until the upstream is back', async () => {
  const port = await freePort();
  const client = createGrpcClient(Health, {
    address: `127.0.0.1:${port}`,
    interceptors: [createResilienceInterceptor({ maxAttempts: 5 })],
  });
  const server = createServer({ logger, services: [] });
  // The server comes up while the first attempts are being refused.
  setTimeout(() => void server.listen(port).then(() => server.health.setAll(true)), 60);
  const res = await client.check({ service: '' });
  expect(res.status).toBeGreaterThan(0);
  await server.shutdown(100);
});

test('an upstream that stays down opens the breaker: calls fail at once, then one trial closes it', async () => {
  const port = await freePort();
  const client = createGrpcClient(Health, {
    address: `127.0.0.1:${port}`,
    interceptors: [createResilienceInterceptor({ failureThreshold: 2, halfOpenAfterMs: 300 })],
  });
  for (let i = 0; i < 2; i++) {
    await expect(client.check({ service: '' })).rejects.toMatchObject({ message: /ECONNREFUSED/ });
  }
  const started = performance.now();
  const fast = await client.check({ service: '' }).catch((e: unknown) => ConnectError.from(e));
  expect(performance.now() - started).toBeLessThan(20);
  expect(fast).toMatchObject({ code: Code.Unavailable, rawMessage: 'upstream unavailable (circuit open)' });

  const server = createServer({ logger, services: [] });
  await server.listen(port);
  server.health.setAll(true);
  await new Promise((resolve) => setTimeout(resolve, 350));
  expect((await client.check({ service: '' })).status).toBeGreaterThan(0);
  await server.shutdown(100);
});

test('errors the upstream answered never open the breaker', async () => {
  const server = createServer({ logger, services: [] });
  const port = await server.listen(0);
  const client = createGrpcClient(Health, {
    address: `127.0.0.1:${port}`,
    interceptors: [createResilienceInterceptor({ failureThreshold: 1 })],
  });
  // NOT_FOUND for an unknown service, answered by the peer, many times over.
  for (let i = 0; i < 5; i++) {
    await expect(client.check({ service: 'no.such.Service' })).rejects.toMatchObject({ code: Code.NotFound });
  }
  expect((await client.check({ service: '' })).status).toBeGreaterThan(0);
  await server.shutdown(100);
});
