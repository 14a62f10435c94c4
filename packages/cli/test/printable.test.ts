import { printable, printableJson, printableLine } from '../src/printable.ts';
import { compactJson } from '../src/render-tool-execution.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: what must never reach the terminal
const unsafe = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

test('escape sequences are removed whole, with their parameters', () => {
  // Clear the line, move up: what would rewrite the approval question.
  expect(printable('ok\u001b[2K\u001b[1Adone')).toBe('okdone');
  expect(printable('\u001b[31mred\u001b[0m \u001b[38;5;196mbright\u001b[m')).toBe('red bright');
  // C1 CSI, private modes, intermediates.
  expect(printable('a\u009b2Jb\u001b[?25lc\u001b[1 qd')).toBe('abcd');
  // OSC: window title (BEL) and a hyperlink (ST); the link text stays.
  expect(printable('\u001b]0;pwned\u0007title')).toBe('title');
  expect(printable('\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\')).toBe('click');
  // DCS and other two-character sequences (save/restore cursor, reset).
  expect(printable('\u001bP1$r\u001b\\x\u001b7y\u001b8z\u001bc')).toBe('xyz');
});

test('control characters go, newlines and tabs stay in multi-line text', () => {
  expect(printable('line 1\r\nline\t2\n')).toBe('line 1\nline\t2\n');
  // A bare carriage return would let text overwrite its own line; backspace, bell, NUL, DEL.
  expect(printable('safe\rEVIL\b\b\u0007\u0000\u007f')).toBe('safeEVIL');
  expect(printable('a\u0085b\u009cc')).toBe('abc');
  // A lone or cut-off ESC (a stream split mid-sequence) leaves harmless text only.
  expect(printable('end\u001b')).toBe('end');
  expect(printable('[2Kstart')).toBe('[2Kstart');
  expect(printable('x\u001b[')).toBe('x');
  // An unterminated OSC loses its ESC; the rest is plain text.
  expect(unsafe.test(printable('\u001b]0;title'))).toBe(false);
});

test('bidi embeddings, overrides and isolates are removed; other Unicode is kept', () => {
  const trojan = 'access = "user\u202e \u2066// admin\u2069 \u2066"';
  expect(printable(trojan)).toBe('access = "user // admin "');
  for (const c of [
    '\u202a',
    '\u202b',
    '\u202c',
    '\u202d',
    '\u202e',
    '\u2066',
    '\u2067',
    '\u2068',
    '\u2069',
  ]) {
    expect(printable(`a${c}b`)).toBe('ab');
  }
  expect(printable('Grüße, 订单 ✓ ⏸ — ok')).toBe('Grüße, 订单 ✓ ⏸ — ok');
});

test('printableLine keeps a value on one line', () => {
  expect(printableLine('create_ticket\nApprove get_order_detail? [y/N] \ty')).toBe(
    'create_ticket Approve get_order_detail? [y/N]  y',
  );
  expect(printableLine('a\r\nb')).toBe('a b');
});

test('printableJson escapes what JSON.stringify leaves raw, and parses back to the same value', () => {
  const value = { text: 'a\u001b[2Kb\u009bc\u202ed\u007fe', n: 1 };
  const json = printableJson(value);
  expect(unsafe.test(json)).toBe(false);
  expect(json).toBe('{"text":"a\\u001b[2Kb\\u009bc\\u202ed\\u007fe","n":1}');
  expect(JSON.parse(json)).toEqual(value);
  expect(printableJson([value], 2)).toContain('\n  {\n');
});

test('compactJson cleans arguments that are not JSON, and cuts what shows', () => {
  // Valid JSON escapes its controls; they stay escaped, as inert text.
  expect(compactJson(JSON.stringify({ d: '\u001b[2K\u001b[1Ax' }))).toBe('{"d":"\\u001b[2K\\u001b[1Ax"}');
  // Raw controls make it invalid JSON, shown as it came, but cleaned.
  expect(compactJson('not json \u001b[2K\u001b[1A\u202eok\nnext')).toBe('not json ok next');
  expect(compactJson('{"d":"\u009b2J\u202e"}')).toBe('{"d":""}');
  expect(compactJson(`"${'\u001b[2K'.repeat(40)}x"`, 10)).toBe('"x"');
});
