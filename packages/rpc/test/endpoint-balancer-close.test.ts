// A replica that leaves discovery: the balancer closes its connection (no socket kept to a
// scaled-in pod until some idle timeout), and a call already running on it still ends normally.
import { createClient } from '@connectrpc/connect';
import { ChatService } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { freePort } from '@toolmesh/testkit';
import {
  type ClosableTransport,
  createEndpointBalancer,
  createGrpcChannel,
  createServer,
  type Server,
  serviceRegistration,
} from '../src/index.ts';

const logger = createLogger({ service: 'balancer-close-test', level: 'silent' });
let release = Promise.withResolvers<void>();
const servers: Server[] = [];

async function startReplica(): Promise<string> {
  const server = createServer({
    logger,
    services: [
      serviceRegistration(ChatService, {
        async chat(req) {
          if (req.message === 'hold') await release.promise;
          return { reply: 'done' };
        },
      }),
    ],
  });
  servers.push(server);
  return `127.0.0.1:${await server.listen(await freePort(), '127.0.0.1')}`;
}

afterAll(async () => {
  release.resolve();
  for (const s of servers) await s.shutdown(1_000);
});

test('a replica that left is closed; its call in flight ends normally; the others stay open', async () => {
  const [a, b] = [await startReplica(), await startReplica()];
  let listener: (endpoints: readonly { address: string }[]) => void = () => {};
  let current = [{ address: a }, { address: b }];
  const closed: string[] = [];
  const balancer = createEndpointBalancer<ClosableTransport & { address: string }>({
    source: {
      endpoints: () => current,
      onChange: (l) => {
        listener = l;
      },
    },
    connect: (address) => Object.assign(createGrpcChannel({ address }), { address }),
    close: (connection) => {
      closed.push(connection.address);
      connection.close();
    },
  });
  const connectionOf = (address: string) => {
    const endpoint = balancer.endpoints().find((e) => e.address === address);
    if (!endpoint) throw new Error(`no endpoint ${address}`);
    return endpoint.connection;
  };
  const toB = createClient(ChatService, connectionOf(b));
  release = Promise.withResolvers<void>();
  const inFlight = toB.chat({ message: 'hold' });
  // The call is at B (the replica answers only when released) when B leaves discovery.
  await expect(createClient(ChatService, connectionOf(b)).chat({ message: 'ready?' })).resolves.toEqual(
    expect.objectContaining({ reply: 'done' }),
  );
  current = [{ address: a }];
  listener(current);
  expect(closed).toEqual([b]);
  expect(balancer.endpoints().map((e) => e.address)).toEqual([a]);
  release.resolve();
  expect((await inFlight).reply).toBe('done');
  // Nothing new goes out on the closed connection; A's is untouched.
  await expect(toB.chat({ message: 'after' })).rejects.toThrow(/closed/i);
  expect((await createClient(ChatService, connectionOf(a)).chat({ message: 'still there' })).reply).toBe(
    'done',
  );
  connectionOf(a).close();
});
