import { Code, ConnectError } from '@connectrpc/connect';
import { describeError, grpcCodeName, parseGatewayAddress } from '../src/index.ts';

test.each([
  ['127.0.0.1:8080', false, 'http://127.0.0.1:8080', true],
  ['localhost', false, 'http://localhost:8080', true],
  ['gateway.internal:9000', false, 'http://gateway.internal:9000', false],
  ['gateway.example.com', true, 'https://gateway.example.com', false],
  ['gateway.example.com:8443', true, 'https://gateway.example.com:8443', false],
  ['https://gateway.example.com/', false, 'https://gateway.example.com', false],
  ['http://[::1]:8080', false, 'http://[::1]:8080', true],
  ['http://10.0.0.7:8080/toolmesh', true, 'https://10.0.0.7:8080/toolmesh', false],
])('--gateway %s (tls %s) → %s', (input, tls, baseUrl, loopback) => {
  expect(parseGatewayAddress(input, tls)).toEqual({ baseUrl, loopback });
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
