import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { Health } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { freePort, waitFor } from '@toolmesh/testkit';
import { createGrpcClient, createResilienceInterceptor, createServer, readErrorInfo } from '../src/index.ts';

const logger = createLogger({ service: 'test', level: 'silent' });

// Counts what passes a point of the chain: on the client, the attempts that left the
// resilience interceptor; on the server, the calls that reached it.
const counter = () => {
  const counted = { calls: 0 };
  const interceptor: Interceptor = (next) => (req) => {
    counted.calls++;
    return next(req);
  };
  return { counted, interceptor };
};

test('a request that was never sent is retried, after the backoff, once the upstream is back', async () => {
  const port = await freePort();
  const clock = createManualClock();
  const attempts = counter();
  const client = createGrpcClient(Health, {
    address: `127.0.0.1:${port}`,
    interceptors: [createResilienceInterceptor({ maxAttempts: 5, clock }), attempts.interceptor],
  });
  const answer = client.check({ service: '' });
  // The first attempt was refused and the retry now waits for its backoff on the clock.
  await waitFor(() => clock.pending() > 0, { what: 'the backoff after a refused attempt' });
  expect(attempts.counted.calls).toBe(1);

  const reached = counter();
  const server = createServer({ logger, services: [], interceptors: [reached.interceptor] });
  await server.listen(port);
  server.health.setAll(true);
  await clock.advance(1_000);
  expect((await answer).status).toBeGreaterThan(0);
  expect(attempts.counted.calls).toBe(2);
  expect(reached.counted.calls).toBe(1);
  await server.shutdown(100);
});

test('an upstream that stays down opens the breaker: calls are refused unsent until its wait is over, then one trial closes it', async () => {
  const port = await freePort();
  const clock = createManualClock();
  const attempts = counter();
  const client = createGrpcClient(Health, {
    address: `127.0.0.1:${port}`,
    interceptors: [
      createResilienceInterceptor({ maxAttempts: 1, failureThreshold: 2, halfOpenAfterMs: 500, clock }),
      attempts.interceptor,
    ],
  });
  for (let i = 0; i < 2; i++) {
    await expect(client.check({ service: '' })).rejects.toMatchObject({ message: /ECONNREFUSED/ });
  }
  expect(attempts.counted.calls).toBe(2);
  const refused = await client.check({ service: '' }).catch((e: unknown) => ConnectError.from(e));
  expect(refused).toMatchObject({
    code: Code.Unavailable,
    rawMessage: 'upstream unavailable (circuit open)',
  });
  expect(readErrorInfo(refused)).toMatchObject({ reason: 'CIRCUIT_OPEN', domain: 'toolmesh' });
  // Refused by the breaker: the call never left the interceptor.
  expect(attempts.counted.calls).toBe(2);

  const reached = counter();
  const server = createServer({ logger, services: [], interceptors: [reached.interceptor] });
  await server.listen(port);
  server.health.setAll(true);
  // The upstream is back, but until the wait is over every call is refused without reaching it.
  await clock.advance(499);
  const stillRefused = await client.check({ service: '' }).catch((e: unknown) => e);
  expect(readErrorInfo(stillRefused)?.reason).toBe('CIRCUIT_OPEN');
  expect(attempts.counted.calls).toBe(2);
  expect(reached.counted.calls).toBe(0);

  // Then the one trial call goes through, succeeds and closes the breaker.
  await clock.advance(1);
  expect((await client.check({ service: '' })).status).toBeGreaterThan(0);
  expect(attempts.counted.calls).toBe(3);
  expect(reached.counted.calls).toBe(1);
  expect((await client.check({ service: '' })).status).toBeGreaterThan(0);
  expect(reached.counted.calls).toBe(2);
  await server.shutdown(100);
});

test('a failed trial opens the breaker for another wait', async () => {
  const port = await freePort();
  const clock = createManualClock();
  const attempts = counter();
  const client = createGrpcClient(Health, {
    address: `127.0.0.1:${port}`,
    interceptors: [
      createResilienceInterceptor({ maxAttempts: 1, failureThreshold: 1, halfOpenAfterMs: 500, clock }),
      attempts.interceptor,
    ],
  });
  await expect(client.check({ service: '' })).rejects.toMatchObject({ message: /ECONNREFUSED/ });
  await clock.advance(500);
  // The trial still finds nobody listening.
  await expect(client.check({ service: '' })).rejects.toMatchObject({ message: /ECONNREFUSED/ });
  expect(attempts.counted.calls).toBe(2);
  await clock.advance(499);
  const refused = await client.check({ service: '' }).catch((e: unknown) => e);
  expect(readErrorInfo(refused)?.reason).toBe('CIRCUIT_OPEN');
  expect(attempts.counted.calls).toBe(2);
});

test('the open breaker refuses streams too, until its wait is over', async () => {
  const port = await freePort();
  const clock = createManualClock();
  const attempts = counter();
  const client = createGrpcClient(Health, {
    address: `127.0.0.1:${port}`,
    interceptors: [
      createResilienceInterceptor({ maxAttempts: 1, failureThreshold: 1, halfOpenAfterMs: 500, clock }),
      attempts.interceptor,
    ],
  });
  const watch = async () => {
    for await (const res of client.watch({ service: '' })) return res.status;
    return undefined;
  };
  await expect(client.check({ service: '' })).rejects.toMatchObject({ message: /ECONNREFUSED/ });
  const refused = await watch().catch((e: unknown) => e);
  expect(readErrorInfo(refused)?.reason).toBe('CIRCUIT_OPEN');
  expect(attempts.counted.calls).toBe(1);
  // The wait is over: the stream is attempted (and finds nobody listening).
  await clock.advance(500);
  await expect(watch()).rejects.toMatchObject({ message: /ECONNREFUSED/ });
  expect(attempts.counted.calls).toBe(2);
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
