import { loadConfig } from '../src/index.ts';

// The mesh's public keys are the one thing a tool service cannot default.
const base = { TOOLMESH_MESH_JWKS_FILE: '/etc/toolmesh/mesh-jwks.json' };

test('ORDER_SERVICE_ADDR defaults to the dev order service and takes host:port', () => {
  expect(loadConfig(base).orderServiceAddr).toBe('127.0.0.1:50061');
  expect(loadConfig({ ...base, ORDER_SERVICE_ADDR: '' }).orderServiceAddr).toBe('127.0.0.1:50061');
  expect(loadConfig({ ...base, ORDER_SERVICE_ADDR: 'order.toolmesh.svc:50061' }).orderServiceAddr).toBe(
    'order.toolmesh.svc:50061',
  );
  expect(loadConfig({ ...base, ORDER_SERVICE_ADDR: '[::1]:50061' }).orderServiceAddr).toBe('[::1]:50061');
});

test.each(['localhost', 'http://order:50061', 'order:port'])('ORDER_SERVICE_ADDR=%s is rejected', (addr) => {
  expect(() => loadConfig({ ...base, ORDER_SERVICE_ADDR: addr })).toThrow(
    'invalid ticket service configuration: ORDER_SERVICE_ADDR: must be host:port',
  );
});

test('the ticket service does not start without the mesh public keys', () => {
  expect(loadConfig(base).meshAuth).toEqual({ jwks: { file: '/etc/toolmesh/mesh-jwks.json' } });
  expect(() => loadConfig({})).toThrow(/TOOLMESH_MESH_JWKS_FILE or TOOLMESH_MESH_JWKS_URL is required/);
});
