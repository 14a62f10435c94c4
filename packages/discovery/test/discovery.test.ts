import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { createManualClock } from '@toolmesh/clock';
import { startEtcd, type TestEtcd, waitFor } from '@toolmesh/testkit';
import {
  createDnsDiscovery,
  createEtcdDiscovery,
  createStaticDiscovery,
  type Discovery,
  registerService,
} from '../src/index.ts';

jest.setTimeout(60_000);

const addresses = (d: Discovery) =>
  d
    .endpoints()
    .map((e) => e.address)
    .sort();

describe('static discovery', () => {
  test('answers the configured addresses', async () => {
    const d = createStaticDiscovery(['a:1', 'b:2']);
    await d.start();
    expect(addresses(d)).toEqual(['a:1', 'b:2']);
  });
});

describe('dns discovery', () => {
  test('every address of a name is an endpoint, re-resolved; a failing name keeps its last addresses', async () => {
    let answer: string[] | Error = ['10.0.0.2', '10.0.0.1'];
    const errors: string[] = [];
    const clock = createManualClock();
    let lookups = 0;
    const d = createDnsDiscovery({
      targets: ['order.toolmesh.svc:50061', 'ticket.toolmesh.svc:50064'],
      intervalMs: 30,
      clock,
      lookup: async (host) => {
        lookups++;
        if (host.startsWith('ticket')) return ['fd00::7'];
        if (answer instanceof Error) throw answer;
        return answer;
      },
      onError: (target) => errors.push(target),
    });
    const changes: string[][] = [];
    d.onChange((list) => changes.push(list.map((e) => e.address)));
    await d.start();
    expect(addresses(d)).toEqual(['10.0.0.1:50061', '10.0.0.2:50061', '[fd00::7]:50064']);

    expect(lookups).toBe(2);

    // Nothing is looked up again before the interval has passed.
    answer = ['10.0.0.3'];
    await clock.advance(29);
    expect(lookups).toBe(2);
    await clock.advance(1);
    expect(lookups).toBe(4);
    expect(addresses(d)).toEqual(['10.0.0.3:50061', '[fd00::7]:50064']);

    answer = new Error('SERVFAIL');
    await clock.advance(90);
    expect(errors).toEqual([
      'order.toolmesh.svc:50061',
      'order.toolmesh.svc:50061',
      'order.toolmesh.svc:50061',
    ]);
    expect(addresses(d)).toEqual(['10.0.0.3:50061', '[fd00::7]:50064']);
    // Listeners hear real changes only, not every re-resolution.
    expect(changes).toHaveLength(2);
    await d.stop();
    expect(clock.pending()).toBe(0);
  });

  test('resolves real names with the system resolver', async () => {
    const d = createDnsDiscovery({ targets: ['localhost:50061'] });
    await d.start();
    expect(addresses(d)).toContain('127.0.0.1:50061');
    await d.stop();
  });
});

describe('etcd discovery and registration (real etcd)', () => {
  let etcd: TestEtcd;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  test('replicas register under leases, appear, deregister and expire', async () => {
    const connection = { endpoints: [etcd.endpoint], prefix: '/test-a/' };
    const one = await registerService({ ...connection, service: 'order', address: '127.0.0.1:7001' });
    const d = createEtcdDiscovery(connection);
    await d.start();
    expect(addresses(d)).toEqual(['127.0.0.1:7001']);

    const two = await registerService({
      ...connection,
      service: 'order',
      address: '127.0.0.1:7002',
      ttlSeconds: 2,
    });
    await waitFor(() => addresses(d).length === 2, { what: 'addresses(d).length === 2' });
    expect(two.registered()).toBe(true);

    await one.deregister();
    await waitFor(() => addresses(d).length === 1, { what: 'addresses(d).length === 1' });
    expect(addresses(d)).toEqual(['127.0.0.1:7002']);

    // A replica that dies without deregistering (kill -9) vanishes when its lease expires.
    const crashed = spawnRegisteredReplica(connection, '127.0.0.1:7003');
    await waitFor(() => addresses(d).includes('127.0.0.1:7003'), {
      what: "addresses(d).includes('127.0.0.1:7003')",
    });
    crashed.kill('SIGKILL');
    await waitFor(() => !addresses(d).includes('127.0.0.1:7003'), {
      what: "!addresses(d).includes('127.0.0.1:7003')",
    });
    expect(addresses(d)).toEqual(['127.0.0.1:7002']);

    await two.deregister();
    await d.stop();
  });

  test('etcd down: the last known endpoints stay; back up: registrations return by themselves', async () => {
    const connection = { endpoints: [etcd.endpoint], prefix: '/test-b/' };
    const registrationErrors: unknown[] = [];
    const discoveryErrors: unknown[] = [];
    const reg = await registerService({
      ...connection,
      service: 'inventory',
      address: '127.0.0.1:7101',
      ttlSeconds: 2,
      retryMs: 200,
      onError: (e) => registrationErrors.push(e),
    });
    const d = createEtcdDiscovery({ ...connection, retryMs: 200, onError: (e) => discoveryErrors.push(e) });
    await d.start();
    expect(addresses(d)).toEqual(['127.0.0.1:7101']);

    await etcd.kill();
    // Both sides have noticed the outage: the watch broke and the registration lost its lease.
    await waitFor(() => discoveryErrors.length > 0 && !reg.registered(), {
      what: 'discoveryErrors.length > 0 && !reg.registered()',
    });
    expect(addresses(d)).toEqual(['127.0.0.1:7101']);

    await etcd.start();
    await waitFor(() => reg.registered(), { what: 'reg.registered()' });
    await waitFor(() => addresses(d).length === 1, { what: 'addresses(d).length === 1' });
    expect(addresses(d)).toEqual(['127.0.0.1:7101']);

    // A replica registering after the outage is seen through the re-established watch.
    const late = await registerService({ ...connection, service: 'inventory', address: '127.0.0.1:7102' });
    await waitFor(() => addresses(d).length === 2, { what: 'addresses(d).length === 2' });
    await late.deregister();
    await reg.deregister();
    await d.stop();
  });

  test('discovery started while etcd is down keeps trying and fills in once it is up', async () => {
    const connection = { endpoints: [etcd.endpoint], prefix: '/test-c/' };
    await etcd.kill();
    const d = createEtcdDiscovery({ ...connection, retryMs: 200, onError: () => {} });
    await d.start();
    expect(addresses(d)).toEqual([]);
    await etcd.start();
    const reg = await registerService({ ...connection, service: 'dispatch', address: '127.0.0.1:7201' });
    await waitFor(() => addresses(d).length === 1, { what: 'addresses(d).length === 1' });
    await reg.deregister();
    await d.stop();
  });
});

// A replica in its own process (TTL 1 s), so it can really be killed.
function spawnRegisteredReplica(connection: { endpoints: string[]; prefix: string }, address: string) {
  const source = new URL('../src/index.ts', import.meta.url).href;
  const script = `
    const { registerService } = await import(${JSON.stringify(source)});
    await registerService(${JSON.stringify({ ...connection, service: 'ticket', address, ttlSeconds: 1 })});
    setInterval(() => {}, 1000);`;
  return spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
}
