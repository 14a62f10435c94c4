import { Code, ConnectError } from '@connectrpc/connect';
import { describeError, grpcCodeName, parseGatewayAddress, plaintextWarning } from '../src/index.ts';

test.each([
  ['127.0.0.1:8080', false, 'http://127.0.0.1:8080', true],
  ['localhost', false, 'http://localhost:8080', true],
  ['gateway.internal:9000', false, 'http://gateway.internal:9000', false],
  ['gateway.example.com', true, 'https://gateway.example.com', false],
  ['gateway.example.com:8443', true, 'https://gateway.example.com:8443', false],
  ['https://gateway.example.com/', false, 'https://gateway.example.com', false],
  ['http://[::1]:8080', false, 'http://[::1]:8080', true],
  ['http://10.0.0.7:8080/toolmesh', true, 'https://10.0.0.7:8080/toolmesh', false],
  ['127.12.0.3:8080', false, 'http://127.12.0.3:8080', true],
  // Only a whole loopback address is loopback: these are somebody else's machines.
  ['127.example.com:8080', false, 'http://127.example.com:8080', false],
  ['localhost.example.com', false, 'http://localhost.example.com:8080', false],
  ['http://0.0.0.0:8080', false, 'http://0.0.0.0:8080', false],
])('--gateway %s (tls %s) → %s', (input, tls, baseUrl, loopback) => {
  expect(parseGatewayAddress(input, tls)).toEqual({ baseUrl, loopback, tls: baseUrl.startsWith('https:') });
});

test('a key in clear text to a gateway not on this machine is warned about, with the fix', () => {
  const warning = plaintextWarning(parseGatewayAddress('gateway.example.com:8080', false));
  expect(warning).toContain('unencrypted (plain HTTP) to http://gateway.example.com:8080');
  expect(warning).toContain('https://');
  expect(plaintextWarning(parseGatewayAddress('http://10.0.0.7:8080', false))).toBeDefined();
  expect(plaintextWarning(parseGatewayAddress('http://127.example.com', false))).toBeDefined();
  // TLS, or a gateway on this machine: nothing to warn about.
  for (const [input, tls] of [
    ['gateway.example.com', true],
    ['https://gateway.example.com', false],
    ['127.0.0.1:8080', false],
    ['localhost:8080', false],
    ['http://[::1]:8080', false],
  ] as const) {
    expect([input, plaintextWarning(parseGatewayAddress(input, tls))]).toEqual([input, undefined]);
  }
});

test('an unusable gateway address is refused with the reason', () => {
  expect(() => parseGatewayAddress('ftp://x', false)).toThrow(/only http/);
  expect(() => parseGatewayAddress('a b:c', false)).toThrow(/invalid gateway address/);
});

test('errors name the canonical gRPC code and hint at the fix', () => {
  expect(grpcCodeName(Code.PermissionDenied)).toBe('PERMISSION_DENIED');
  expect(grpcCodeName(Code.Unauthenticated)).toBe('UNAUTHENTICATED');
  const context = { baseUrl: 'http://127.0.0.1:8080', rpc: 'toolmesh.v1.AuditService/ListAuditRecords' };
  expect(describeError(new ConnectError('no', Code.PermissionDenied), context)).toEqual({
    code: 'PERMISSION_DENIED',
    message: 'no',
    hint: 'reading the audit log needs the audit:read permission (dev key: dev-key-operator)',
  });
  expect(describeError(new ConnectError('refused', Code.Unavailable), context).hint).toContain(
    'http://127.0.0.1:8080',
  );
  expect(describeError(new Error('boom'), context)).toEqual({ code: 'ERROR', message: 'boom' });
});
