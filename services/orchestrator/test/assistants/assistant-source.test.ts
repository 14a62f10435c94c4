import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '@toolmesh/clock';
import type { Logger } from '@toolmesh/telemetry';
import { AssistantsFileError, createAssistantSource, type ModelBackend } from '../../src/assistants/index.ts';

const envModel: ModelBackend = { name: 'env', baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k', model: 'm' };

// A logger that records its lines.
function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) =>
    lines.push({ level, fields, message });
  const logger = { info: at('info'), error: at('error'), warn: at('warn'), debug: at('debug') };
  return { logger: logger as unknown as Logger, lines };
}

const file = (assistant: string, extra = '') =>
  `assistants:\n  - name: ${assistant}\n    instructions: I am ${assistant}.\n${extra}default: ${assistant}\n`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'assistants-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('a good new file replaces the catalog; a broken one is refused, logged once, and the old one kept', async () => {
  const path = join(dir, 'assistants.yaml');
  writeFileSync(path, file('alpha'));
  const clock = createManualClock();
  const { logger, lines } = recordingLogger();
  const source = await createAssistantSource({ path, envModel, env: {}, clock, logger, checkEveryMs: 1000 });
  const first = source.current();
  expect(first.defaultAssistant).toBe('alpha');
  expect(lines.at(-1)).toMatchObject({
    level: 'info',
    fields: { assistants: ['alpha'], version: first.version },
  });

  await clock.advance(1000); // unchanged: the same catalog object
  expect(source.current()).toBe(first);

  writeFileSync(path, file('beta'));
  await clock.advance(1000);
  const second = source.current();
  expect([...second.assistants.keys()]).toEqual(['beta']);
  expect(second.version).not.toBe(first.version);
  expect(lines.at(-1)).toMatchObject({
    level: 'info',
    fields: { assistants: ['beta'], version: second.version },
  });

  writeFileSync(path, file('gamma', '    temperature: 9\n'));
  await clock.advance(1000);
  expect(source.current()).toBe(second);
  const errors = lines.filter((l) => l.level === 'error');
  expect(errors).toHaveLength(1);
  expect(errors[0]?.message).toContain('line 4: assistants[0].temperature: expected a number from 0 to 2');
  await clock.advance(3000); // the same broken file is not logged again
  expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);

  rmSync(path); // a missing file is refused too
  await clock.advance(1000);
  expect(source.current()).toBe(second);
  expect(lines.filter((l) => l.level === 'error').at(-1)?.message).toContain('cannot read');

  writeFileSync(path, file('delta'));
  await clock.advance(1000);
  expect(source.current().defaultAssistant).toBe('delta');

  source.stop();
  writeFileSync(path, file('epsilon'));
  await clock.advance(5000);
  expect(source.current().defaultAssistant).toBe('delta');
  expect(clock.pending()).toBe(0);
});

test('a changed key file is noticed', async () => {
  const path = join(dir, 'assistants.yaml');
  const keyPath = join(dir, 'key');
  writeFileSync(keyPath, 'one\n');
  writeFileSync(
    path,
    `models:\n  - { name: m, base_url: "http://127.0.0.1:1/v1", api_key_file: ${JSON.stringify(keyPath)}, model: x }\n${file('a', '    model: m\n')}`,
  );
  const clock = createManualClock();
  const source = await createAssistantSource({
    path,
    envModel,
    env: {},
    clock,
    logger: recordingLogger().logger,
  });
  expect(source.current().models.get('m')?.apiKey).toBe('one');
  writeFileSync(keyPath, 'two\n');
  await clock.advance(5000); // the default interval
  expect(source.current().models.get('m')?.apiKey).toBe('two');
  source.stop();
});

test('a bad file at start throws naming the file and line; no file means the neutral catalog', async () => {
  const path = join(dir, 'assistants.yaml');
  writeFileSync(path, file('alpha', '    colour: red\n'));
  const clock = createManualClock();
  const { logger } = recordingLogger();
  const start = createAssistantSource({ path, envModel, env: {}, clock, logger });
  await expect(start).rejects.toThrow(AssistantsFileError);
  await expect(start).rejects.toThrow(`${path}: line 4: assistants[0].colour: unknown key`);
  await expect(
    createAssistantSource({ path: join(dir, 'missing.yaml'), envModel, env: {}, clock, logger }),
  ).rejects.toThrow('cannot read');
  expect(clock.pending()).toBe(0);

  const neutral = await createAssistantSource({ envModel, env: {}, clock, logger });
  expect(neutral.current().defaultAssistant).toBe('default');
  expect(clock.pending()).toBe(0);
  neutral.stop();
});
