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
