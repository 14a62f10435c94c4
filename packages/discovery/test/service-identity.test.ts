// The service each discovered endpoint is registered under: the identity the orchestrator's
// publishing policy checks. Static and DNS entries name it with `service=` or their host name's
// first label; an IP names none. (etcd's key segment is covered against a real etcd in
// the devstack publishing test.)
import { createManualClock } from '@toolmesh/clock';
import { createDnsDiscovery, createStaticDiscovery, parseServiceEntry } from '../src/index.ts';

test.each([
  ['order=127.0.0.1:50061', { service: 'order', address: '127.0.0.1:50061' }],
  ['mcp-bridge=localhost:50065', { service: 'mcp-bridge', address: 'localhost:50065' }],
  [
    'order.toolmesh.svc.cluster.local:50061',
    { service: 'order', address: 'order.toolmesh.svc.cluster.local:50061' },
  ],
  ['inventory:50062', { service: 'inventory', address: 'inventory:50062' }],
  ['127.0.0.1:50061', { address: '127.0.0.1:50061' }],
  ['[::1]:50061', { address: '[::1]:50061' }],
])('%s', (entry, expected) => {
  expect(parseServiceEntry(entry)).toEqual(expected);
});

test('static and DNS discovery report the service of each endpoint', async () => {
  expect(createStaticDiscovery(['order=127.0.0.1:1', '127.0.0.1:2']).endpoints()).toEqual([
    { address: '127.0.0.1:1', version: '', service: 'order' },
    { address: '127.0.0.1:2', version: '' },
  ]);
  const dns = createDnsDiscovery({
    targets: ['order.toolmesh.svc:50061', 'tickets=ticket.toolmesh.svc:50064'],
    clock: createManualClock(),
    lookup: async (host) => (host.startsWith('order') ? ['10.0.0.1', '10.0.0.2'] : ['10.0.0.9']),
  });
  await dns.start();
  expect(dns.endpoints()).toEqual([
    { address: '10.0.0.1:50061', version: '', service: 'order' },
    { address: '10.0.0.2:50061', version: '', service: 'order' },
    { address: '10.0.0.9:50064', version: '', service: 'tickets' },
  ]);
  await dns.stop();
});
