import { maskSensitive, maskSensitiveJson } from '../src/index.ts';

test('declared and always-sensitive fields are masked at any depth, the rest kept', () => {
  const input = {
    order_id: '1',
    contact: { Phone: '+86 138 0000 0000', name: 'Li' },
    items: [{ token: 't' }],
  };
  expect(maskSensitive(input, ['phone'])).toEqual({
    order_id: '1',
    contact: { Phone: '***', name: 'Li' },
    items: [{ token: '***' }],
  });
  expect(maskSensitiveJson('{"password":"hunter2","a":1}')).toBe('{"password":"***","a":1}');
  expect(maskSensitiveJson('not json with hunter2')).toBe('"***"');
});

test('log lines go through the same masking policy', async () => {
  const { createLogger } = await import('../src/index.ts');
  const { Writable } = await import('node:stream');
  const lines: string[] = [];
  const logger = createLogger({
    service: 't',
    sensitiveFields: ['phone'],
    destination: new Writable({
      write(chunk, _e, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  });
  logger.info({ args: { phone: '+86 138 0013 8000', order_id: '1' }, token: 'secret-token' }, 'called');
  expect(lines.join('')).not.toContain('138 0013');
  expect(lines.join('')).not.toContain('secret-token');
  expect(JSON.parse(lines[0] ?? '{}').args).toEqual({ phone: '***', order_id: '1' });
});

test('errors in log lines keep their message and stack', async () => {
  const { createLogger } = await import('../src/index.ts');
  const { Writable } = await import('node:stream');
  const lines: string[] = [];
  const logger = createLogger({
    service: 't',
    destination: new Writable({
      write(chunk, _e, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  });
  logger.error({ err: new Error('boom') }, 'failed');
  expect(JSON.parse(lines[0] ?? '{}').err).toMatchObject({ message: 'boom', type: 'Error' });
});
