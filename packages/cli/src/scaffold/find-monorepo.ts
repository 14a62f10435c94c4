import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** A toolmesh checkout: an npm workspaces monorepo holding packages/tool-sdk. */
export interface Monorepo {
  /** Absolute path of the repository root. */
  readonly root: string;
  /** The root package.json's workspace patterns, e.g. "packages/*", "services/*". */
  readonly workspaces: readonly string[];
  /** Every workspace package: name → folder relative to the root. */
  readonly packages: ReadonlyMap<string, string>;
}

interface PackageJson {
  name?: string;
  version?: string;
  workspaces?: string[] | { packages?: string[] };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** Reads a package.json; undefined when there is none or it is not JSON. */
export async function readPackageJson(path: string): Promise<PackageJson | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

const workspacePatterns = (pkg: PackageJson) =>
  (Array.isArray(pkg.workspaces) ? pkg.workspaces : (pkg.workspaces?.packages ?? [])).map((p) =>
    p.replace(/\/+$/, ''),
  );

/**
 * Finds the toolmesh monorepo that contains `start` (a file or folder, existing or not) by
 * walking up; undefined when `start` is not inside one.
 */
export async function findMonorepo(start: string): Promise<Monorepo | undefined> {
  for (let dir = start; ; dir = dirname(dir)) {
    const pkg = existsSync(join(dir, 'packages', 'tool-sdk', 'package.json'))
      ? await readPackageJson(join(dir, 'package.json'))
      : undefined;
    if (pkg && workspacePatterns(pkg).length > 0) {
      const workspaces = workspacePatterns(pkg);
      return { root: dir, workspaces, packages: await listWorkspacePackages(dir, workspaces) };
    }
    if (dirname(dir) === dir) return undefined;
  }
}

// npm accepts any glob; toolmesh uses "folder/*" and plain folders, which is all this expands.
async function listWorkspacePackages(root: string, patterns: readonly string[]) {
  const packages = new Map<string, string>();
  const add = async (folder: string) => {
    const pkg = await readPackageJson(join(root, folder, 'package.json'));
    if (pkg?.name) packages.set(pkg.name, folder);
  };
  for (const pattern of patterns) {
    if (pattern.endsWith('/*')) {
      const parent = pattern.slice(0, -2);
      const entries = await readdir(join(root, parent), { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (entry.isDirectory() && !entry.name.startsWith('.')) await add(`${parent}/${entry.name}`);
      }
    } else if (!pattern.includes('*')) {
      await add(pattern);
    }
  }
  return packages;
}

/** Whether a folder (relative to the root, "/"-separated) is matched by one of the workspace patterns. */
export function isWorkspaceFolder(monorepo: Monorepo, folder: string): boolean {
  return monorepo.workspaces.some((pattern) => {
    if (!pattern.endsWith('/*')) return pattern === folder;
    const parent = pattern.slice(0, -2);
    const rest = folder.slice(parent.length + 1);
    return folder.startsWith(`${parent}/`) && rest.length > 0 && !rest.includes('/') && !rest.startsWith('.');
  });
}

/** A path relative to the root with "/" separators, as package.json, Dockerfiles and kustomize write it. */
export function relativePosix(from: string, to: string): string {
  return relative(from, to).split(sep).join('/');
}
