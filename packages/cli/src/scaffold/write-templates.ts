import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { relativePosix } from './find-monorepo.ts';
import { renderTemplate, type TemplateValues } from './render-template.ts';
import { ScaffoldError } from './scaffold-error.ts';

const run = promisify(execFile);

/** A template folder and which of its files (relative, "/"-separated) to use; all when `only` is absent. */
export interface TemplateSource {
  dir: string;
  only?: (file: string) => boolean;
}

/** Checks a port option: a whole number from 1 to 65535. */
export function checkPort(what: string, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ScaffoldError(`invalid ${what} ${port}: expected a whole number from 1 to 65535`);
  }
  return port;
}

/** 50062 → 9412, as the demo services number them; elsewhere the next port up. */
export function defaultMetricsPort(port: number): number {
  const demoStyle = port - 40_650;
  if (demoStyle >= 1_024 && demoStyle !== port) return demoStyle;
  return port < 65_535 ? port + 1 : port - 1;
}

/** Template files, relative to the template folder, "/"-separated. */
async function listTemplates(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.tmpl'))
    .map((e) => relativePosix(dir, join(e.parentPath, e.name)))
    .sort();
}

/**
 * Renders every template of `sources` into `directory` (created if missing), never overwriting a
 * file; on failure removes what it wrote (and the folder, if it made it). Answers the files written.
 */
export async function writeTemplates(
  sources: readonly TemplateSource[],
  directory: string,
  values: TemplateValues,
): Promise<string[]> {
  const createdDirectory = !existsSync(directory);
  const files: string[] = [];
  try {
    await mkdir(directory, { recursive: true });
    for (const source of sources) {
      for (const template of await listTemplates(source.dir)) {
        if (source.only && !source.only(template)) continue;
        const file = renderTemplate(template.replace(/\.tmpl$/, ''), values, template);
        const text = renderTemplate(await readFile(join(source.dir, template), 'utf8'), values, template);
        await mkdir(dirname(join(directory, file)), { recursive: true });
        // 'wx': never overwrite, even a file that appeared since the caller checked.
        await writeFile(join(directory, file), text, { flag: 'wx' });
        files.push(file);
      }
    }
  } catch (error) {
    if (createdDirectory) await rm(directory, { recursive: true, force: true });
    else await Promise.all(files.map((f) => rm(join(directory, f), { force: true })));
    throw error;
  }
  return files.sort();
}

/**
 * Runs the repository's biome on the folder — format, and the safe fixes: import order depends
 * on the name — and answers why it could not, or undefined.
 */
export async function formatFolder(root: string, directory: string): Promise<string | undefined> {
  const biome = join(root, 'node_modules', '.bin', 'biome');
  if (!existsSync(biome)) return `${relativePosix(root, biome)} is missing (npm ci)`;
  try {
    await run(
      biome,
      [
        'check',
        '--write',
        '--no-errors-on-unmatched',
        `--config-path=${join(root, 'biome.json')}`,
        directory,
      ],
      { cwd: root, timeout: 60_000 },
    );
    return undefined;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    return (stderr || message).trim().split('\n').slice(0, 3).join(' ');
  }
}
