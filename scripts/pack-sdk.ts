// Packs the tool SDK for tool teams outside this repository: @toolmesh/tool-sdk, @toolmesh/config
// and every workspace package they need at run time, as npm tarballs with JavaScript and type
// declarations.
//
//   npm run pack:sdk -- [out-dir] [--json]   (out-dir relative to the repository root; default sdk-packs/)
//
// Inside the repository nothing changes: every process runs the TypeScript sources with Node's type
// stripping and the workspace manifests keep exporting ./src/index.ts. This script compiles the
// packages once (one tsc program over all of them) into a temporary staging folder, gives each a
// manifest of its own (exports with types pointing at dist/, public dependencies at the versions
// the repository installs, @toolmesh/* at the versions packed here, not private) and runs one
// `npm pack` over all of them. Prints one line per tarball; with --json, the tarballs as JSON. Exits
// non-zero, saying why, when a package imports something it does not declare.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The packages a tool team installs; everything they depend on in the workspace comes along. */
const roots = ['@toolmesh/tool-sdk', '@toolmesh/config'];

interface Manifest {
  name: string;
  version: string;
  description?: string;
  license?: string;
  exports?: unknown;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

interface Workspace {
  folder: string;
  manifest: Manifest;
}

/** One tarball npm pack wrote. */
export interface PackedPackage {
  name: string;
  version: string;
  /** Absolute path of the .tgz. */
  tarball: string;
  files: string[];
}

const root = fileURLToPath(new URL('..', import.meta.url));
const exactVersion = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const builtins = new Set(builtinModules);
const require = createRequire(join(root, 'package.json'));

class PackError extends Error {}

async function readManifest(path: string): Promise<Manifest> {
  return JSON.parse(await readFile(path, 'utf8')) as Manifest;
}

async function workspacePackages(): Promise<Map<string, Workspace>> {
  const found = new Map<string, Workspace>();
  for (const entry of await readdir(join(root, 'packages'), { withFileTypes: true })) {
    const path = join(root, 'packages', entry.name, 'package.json');
    if (!entry.isDirectory() || !existsSync(path)) continue;
    const manifest = await readManifest(path);
    found.set(manifest.name, { folder: join(root, 'packages', entry.name), manifest });
  }
  return found;
}

/** The roots and the workspace packages in their (run-time) dependencies, transitively. */
function closure(workspaces: Map<string, Workspace>): Workspace[] {
  const picked = new Map<string, Workspace>();
  const visit = (name: string, from: string) => {
    if (picked.has(name)) return;
    const ws = workspaces.get(name);
    if (!ws) throw new PackError(`${from} depends on ${name}, which is no package under packages/`);
    picked.set(name, ws);
    for (const dep of Object.keys(ws.manifest.dependencies ?? {})) {
      if (dep.startsWith('@toolmesh/')) visit(dep, name);
    }
  };
  for (const name of roots) visit(name, 'the SDK');
  return [...picked.values()];
}

function check(ws: Workspace) {
  const { name, version, license, exports } = ws.manifest;
  const where = relative(root, join(ws.folder, 'package.json'));
  if (!version || !exactVersion.test(version)) throw new PackError(`${where}: no exact version`);
  if (!license) throw new PackError(`${where}: no license`);
  const entry = (exports as Record<string, unknown> | undefined)?.['.'];
  if (entry !== './src/index.ts' || !existsSync(join(ws.folder, 'src', 'index.ts'))) {
    throw new PackError(`${where}: ${name} is expected to export ./src/index.ts`);
  }
}

/** Runs a command to its end; rejects with its output when it fails. */
function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolvePromise(stdout);
      else reject(new PackError(`${command} ${args.join(' ')} failed (${code}):\n${stdout}${stderr}`));
    });
  });
}

/** One tsc program over the packages' sources; declarations next to the JavaScript. */
async function compile(packages: Workspace[], stage: string): Promise<string> {
  const outDir = join(stage, 'build');
  const config = {
    extends: join(root, 'tsconfig.base.json'),
    compilerOptions: {
      noEmit: false,
      declaration: true,
      // A build, not a check: `npm run typecheck` checks these sources (with their tests) in CI;
      // emitting without checking again is several times faster.
      noCheck: true,
      // The sources import each other as ./x.ts (what Node's type stripping runs); the JavaScript
      // imports ./x.js. Declarations keep ./x.ts; see rewriteDeclarations.
      rewriteRelativeImportExtensions: true,
      rootDir: join(root, 'packages'),
      outDir,
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
      incremental: false,
    },
    include: packages.map((ws) => join(ws.folder, 'src', '**', '*.ts')),
  };
  const configFile = join(stage, 'tsconfig.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const tsc = require.resolve('typescript/bin/tsc');
  await run(process.execPath, [tsc, '-p', configFile], root);
  return outDir;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

const relativeTs = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g;

/** Declarations import ./x.js, like the JavaScript, so any consumer's module resolution finds ./x.d.ts. */
async function rewriteDeclarations(files: string[]) {
  for (const file of files.filter((f) => f.endsWith('.d.ts'))) {
    const text = await readFile(file, 'utf8');
    const rewritten = text.replace(relativeTs, '$1$2.js$3');
    if (rewritten !== text) await writeFile(file, rewritten);
  }
}

const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/** Every package the emitted files import (statically, dynamically or in a type), by name. */
async function importedPackages(files: string[]): Promise<Set<string>> {
  // TypeScript's own scanner: strings and comments that look like imports are not imports.
  const ts = require('typescript') as typeof import('typescript');
  const names = new Set<string>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(await readFile(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier)) continue;
      names.add(packageOf(specifier));
    }
  }
  return names;
}

/** The version of `dep` that `ws` resolves in this checkout (what its tests ran against). */
async function installedVersion(ws: Workspace, dep: string): Promise<string | undefined> {
  for (let dir = ws.folder; ; dir = resolve(dir, '..')) {
    const path = join(dir, 'node_modules', dep, 'package.json');
    if (existsSync(path)) return (await readManifest(path)).version;
    if (dir === root) return undefined;
  }
}

async function publishedManifest(ws: Workspace, files: string[], packed: Map<string, string>) {
  const { name, version, description, license } = ws.manifest;
  const declared = ws.manifest.dependencies ?? {};
  const dependencies: Record<string, string> = {};
  for (const [dep, spec] of Object.entries(declared)) {
    const packedVersion = packed.get(dep);
    if (packedVersion) {
      dependencies[dep] = packedVersion;
      continue;
    }
    const installed = await installedVersion(ws, dep);
    if (!exactVersion.test(spec) || installed !== spec) {
      throw new PackError(
        `${name}: ${dep} is declared as ${spec} but ${installed ?? 'nothing'} is installed`,
      );
    }
    dependencies[dep] = spec;
  }
  // The declarations expose these packages' types (e.g. pg's Pool): their @types come along.
  for (const [dep, spec] of Object.entries(ws.manifest.devDependencies ?? {})) {
    if (dep.startsWith('@types/') && declared[dep.slice('@types/'.length)]) dependencies[dep] = spec;
  }
  const undeclared = [...(await importedPackages(files))].filter((dep) => !dependencies[dep]);
  if (undeclared.length) {
    throw new PackError(`${name} imports ${undeclared.join(', ')} without declaring it in its dependencies`);
  }
  return {
    name,
    version,
    description,
    license,
    type: 'module',
    exports: {
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './package.json': './package.json',
    },
    main: './dist/index.js',
    types: './dist/index.d.ts',
    files: ['dist'],
    engines: { node: '>=24' },
    dependencies: Object.fromEntries(Object.entries(dependencies).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/**
 * Builds and packs the SDK packages into `outDir` (created if missing); answers what was packed.
 * The staging folder is temporary and removed, also on failure.
 */
export async function packSdk(outDir: string): Promise<PackedPackage[]> {
  const packages = closure(await workspacePackages());
  for (const ws of packages) check(ws);
  const packed = new Map(packages.map((ws) => [ws.manifest.name, ws.manifest.version]));
  const stage = await mkdtemp(join(tmpdir(), 'toolmesh-pack-sdk-'));
  try {
    const build = await compile(packages, stage);
    const folders: string[] = [];
    for (const ws of packages) {
      const folder = join(stage, 'packages', relative(join(root, 'packages'), ws.folder));
      await mkdir(folder, { recursive: true });
      await rename(join(build, relative(join(root, 'packages'), ws.folder), 'src'), join(folder, 'dist'));
      const files = await listFiles(join(folder, 'dist'));
      await rewriteDeclarations(files);
      const manifest = await publishedManifest(ws, files, packed);
      await writeFile(join(folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      await writeFile(
        join(folder, 'README.md'),
        `# ${manifest.name}\n\n${manifest.description ?? ''}\n\nPart of the toolmesh tool SDK: ` +
          'see docs/tool-teams.md in the toolmesh repository.\n',
      );
      folders.push(folder);
    }
    await mkdir(outDir, { recursive: true });
    const output = await run(
      'npm',
      ['pack', ...folders, '--pack-destination', outDir, '--json', '--ignore-scripts', '--silent'],
      stage,
    );
    const results = JSON.parse(output) as {
      name: string;
      version: string;
      filename: string;
      files: { path: string }[];
    }[];
    const tarballs = results.map((r) => ({
      name: r.name,
      version: r.version,
      tarball: join(outDir, r.filename),
      files: r.files.map((f) => f.path).sort(),
    }));
    for (const t of tarballs) {
      const source = t.files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
      if (source.length)
        throw new PackError(`${t.name}: TypeScript sources in the tarball: ${source.join(', ')}`);
    }
    return tarballs;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  // npm run starts scripts in the repository root: a relative folder is one from there.
  const outDir = resolve(args.find((a) => !a.startsWith('--')) ?? join(root, 'sdk-packs'));
  try {
    const tarballs = await packSdk(outDir);
    if (json) process.stdout.write(`${JSON.stringify(tarballs, null, 2)}\n`);
    else for (const t of tarballs) process.stdout.write(`${t.name}@${t.version} → ${t.tarball}\n`);
  } catch (error) {
    if (!(error instanceof PackError)) throw error;
    process.stderr.write(`pack-sdk: ${error.message}\n`);
    process.exit(1);
  }
}
