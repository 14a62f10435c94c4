import { loadConfig } from '../src/index.ts';

test('ORDER_SERVICE_ADDR defaults to the dev order service and takes host:port', () => {
  expect(loadConfig({}).orderServiceAddr).toBe('127.0.0.1:50061');
  expect(loadConfig({ ORDER_SERVICE_ADDR: '' }).orderServiceAddr).toBe('127.0.0.1:50061');
  expect(loadConfig({ ORDER_SERVICE_ADDR: 'order.toolmesh.svc:50061' }).orderServiceAddr).toBe(
    'order.toolmesh.svc:50061',
  );
  expect(loadConfig({ ORDER_SERVICE_ADDR: '[::1]:50061' }).orderServiceAddr).toBe('[::1]:50061');
});

test.each(['localhost', 'http://order:50061', 'order:port'])('ORDER_SERVICE_ADDR=%s is rejected', (addr) => {
  expect(() => loadConfig({ ORDER_SERVICE_ADDR: addr })).toThrow(
    'invalid ticket service configuration: ORDER_SERVICE_ADDR: must be host:port',
  );
});
