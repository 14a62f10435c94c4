// The data folder of `npm start`: kept, new or fresh; never emptied under a running database.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareDataDir } from '../src/index.ts';
import { lockDirectory } from '../src/lock-directory.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'toolmesh-data-dir-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fillPglite = async () => {
  await mkdir(join(dir, 'pglite'), { recursive: true });
  await writeFile(join(dir, 'pglite', 'PG_VERSION'), '17\n');
};

test('new, then kept; fresh empties only the pglite folder', async () => {
  expect(await prepareDataDir({ dir })).toEqual({ dir, pgliteDir: join(dir, 'pglite'), state: 'new' });
  await fillPglite();
  await writeFile(join(dir, 'notes.txt'), 'mine');
  expect((await prepareDataDir({ dir })).state).toBe('kept');
  expect((await prepareDataDir({ dir, fresh: true })).state).toBe('fresh');
  expect(existsSync(join(dir, 'pglite'))).toBe(false);
  expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
});

test('a folder a live process holds is neither emptied nor claimed twice; a dead holder’s lock is taken over', async () => {
  await fillPglite();
  const pgliteDir = join(dir, 'pglite');
  // Another live process holds it.
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await writeFile(`${pgliteDir}.lock`, String(holder.pid));
    await expect(prepareDataDir({ dir, fresh: true })).rejects.toThrow(`in use by process ${holder.pid}`);
    expect(() => lockDirectory(pgliteDir)).toThrow(`in use by process ${holder.pid}`);
    expect(existsSync(join(pgliteDir, 'PG_VERSION'))).toBe(true);
  } finally {
    const gone = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await gone;
  }
  // Its holder died (kill -9): the lock is stale and taken over, and released again.
  const release = lockDirectory(pgliteDir);
  expect(await readFile(`${pgliteDir}.lock`, 'utf8')).toBe(String(process.pid));
  release();
  expect(existsSync(`${pgliteDir}.lock`)).toBe(false);
});
