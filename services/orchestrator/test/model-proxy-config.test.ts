// The model backends' egress proxy comes from the usual variables, and only from them.
import { loadConfig as load } from '../src/config.ts';

// Only what the orchestrator cannot start without (file names; nothing is read here).
const loadConfig = (env: Record<string, string>) =>
  load({ TOOLMESH_MESH_JWKS_FILE: 'jwks.json', TOOLMESH_MESH_KEY_FILE: 'key.json', ...env });

test('the usual proxy variables, upper or lower case, set the model proxy; none means direct', () => {
  expect(loadConfig({}).model.proxy).toBeUndefined();
  expect(loadConfig({ HTTPS_PROXY: 'http://egress:3128', NO_PROXY: 'localhost,.svc' }).model.proxy).toEqual({
    httpsProxy: 'http://egress:3128',
    httpProxy: undefined,
    noProxy: 'localhost,.svc,localhost,127.0.0.1,::1',
  });
  // An http proxy alone serves https model URLs too, as curl does.
  expect(loadConfig({ http_proxy: 'http://egress:3128' }).model.proxy).toEqual({
    httpsProxy: 'http://egress:3128',
    httpProxy: 'http://egress:3128',
    // Loopback is never proxied: a proxy cannot reach this host's own.
    noProxy: 'localhost,127.0.0.1,::1',
  });
  // Without a scheme, as curl takes it.
  expect(loadConfig({ HTTPS_PROXY: 'egress:3128' }).model.proxy?.httpsProxy).toBe('http://egress:3128');
  expect(() => loadConfig({ HTTPS_PROXY: 'http://[bad' })).toThrow(/HTTPS_PROXY/);
});
