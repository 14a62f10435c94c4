import { createApiKeyAuthenticator, devApiKeys, loadConfig } from '../src/index.ts';

test('the dev keys map to the demo principals; anything else is rejected', () => {
  const authenticate = createApiKeyAuthenticator(devApiKeys);
  expect(authenticate('Bearer dev-key-u1001')).toMatchObject({ userId: 'u_1001', tenantId: 't_demo' });
  expect(authenticate('bearer dev-key-u2002')?.userId).toBe('u_2002');
  expect(authenticate('Bearer dev-key-readonly')?.permissions).not.toContain('ticket:write');
  for (const header of [
    null,
    '',
    'dev-key-u1001',
    'Bearer ',
    'Bearer dev-key-u1001x',
    'Basic dev-key-u1001',
  ]) {
    expect(authenticate(header)).toBeUndefined();
  }
});

test('configuration: dev keys by default, TOOLMESH_API_KEYS replaces them, bad values are named', () => {
  expect(loadConfig({}).usingDevKeys).toBe(true);
  const keys = {
    'prod-key-0123456789abcdef': { user_id: 'u_9', tenant_id: 't_x', permissions: ['order:read'] },
  };
  const config = loadConfig({ TOOLMESH_API_KEYS: JSON.stringify(keys), PORT: '9090' });
  expect(config.usingDevKeys).toBe(false);
  expect(config.port).toBe(9090);
  expect(createApiKeyAuthenticator(config.apiKeys)('Bearer dev-key-u1001')).toBeUndefined();
  expect(() => loadConfig({ TOOLMESH_API_KEYS: '{' })).toThrow(/TOOLMESH_API_KEYS/);
  expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
});
