import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  findMonorepo,
  isWorkspaceFolder,
  type Monorepo,
  readPackageJson,
  relativePosix,
} from './find-monorepo.ts';
import type { TemplateValues } from './render-template.ts';
import { ScaffoldError } from './scaffold-error.ts';
import { serviceNames } from './service-name.ts';
import { checkPort, defaultMetricsPort, formatFolder, writeTemplates } from './write-templates.ts';

/** Options of {@link scaffoldToolService}. */
export interface ScaffoldToolServiceOptions {
  /** The service's name, kebab-case, e.g. "loyalty-points". */
  name: string;
  /**
   * Folder of the new service, relative to `cwd`; created, and refused if it exists and is not
   * empty. It must be inside the toolmesh monorepo (that is how it resolves @toolmesh/*).
   * Default: `services/<name>` of the monorepo around `cwd`.
   */
  directory?: string;
  /** Default gRPC port (config.ts, Dockerfile, manifests); default 50080. */
  port?: number;
  /** Default /metrics port; default derived like the demo services' (50062 → 9412). */
  metricsPort?: number;
  /** Where a relative `directory` resolves and the monorepo is looked for; default process.cwd(). */
  cwd?: string;
  /** Formats the new files with the repository's biome (long names wrap lines); default true. */
  format?: boolean;
}

/** What {@link scaffoldToolService} created. */
export interface ScaffoldResult {
  /** Absolute path of the new service's folder. */
  directory: string;
  /** The same, relative to the monorepo root, e.g. "services/loyalty-points" (standalone: to `cwd`). */
  folder: string;
  /** Absolute path of the monorepo root (standalone: the checkout whose SDK versions it uses). */
  root: string;
  packageName: string;
  /** The example tool, e.g. "get_loyalty_points_item". */
  toolName: string;
  port: number;
  metricsPort: number;
  /** The created files, relative to `directory`, sorted. */
  files: string[];
  /** False when the repository's formatter could not run (see nextSteps). */
  formatted: boolean;
  /** A service in a repository of its own, on the published SDK packages, rather than a workspace. */
  standalone: boolean;
  /** What is left to do by hand, in order, as sentences. */
  nextSteps: string[];
}

/** The default gRPC port of a new service: clear of the demo services' 50061–50064 and the model's 50070. */
export const defaultToolServicePort = 50_080;

const templateDir = fileURLToPath(new URL('../../templates/tool-service/', import.meta.url));
const sharedPackages = ['config', 'proto', 'rpc', 'telemetry', 'testkit', 'tool-sdk'] as const;

/**
 * Generates a tool service — package, config, server, one read tool, main, a test, Dockerfile,
 * Kubernetes manifests, README — that type-checks, passes its test and, with DISCOVERY=etcd,
 * registers itself. Throws {@link ScaffoldError} for a bad name or port, an existing service
 * or a non-empty folder; nothing is left behind on failure.
 */
export async function scaffoldToolService(options: ScaffoldToolServiceOptions): Promise<ScaffoldResult> {
  const names = serviceNames(options.name);
  const port = checkPort('port', options.port ?? defaultToolServicePort);
  const metricsPort = checkPort('metrics port', options.metricsPort ?? defaultMetricsPort(port));
  if (metricsPort === port) throw new ScaffoldError('the gRPC and metrics ports must differ');

  const cwd = resolve(options.cwd ?? process.cwd());
  const requested = options.directory === undefined ? undefined : resolve(cwd, options.directory);
  const monorepo = await findMonorepo(requested ?? cwd);
  if (!monorepo) {
    throw new ScaffoldError(
      `${requested ?? cwd} is not inside a toolmesh monorepo (a folder whose package.json has ` +
        'workspaces, with packages/tool-sdk): run the command in your toolmesh checkout',
    );
  }
  const directory = requested ?? join(monorepo.root, 'services', names.name);
  const folder = relativePosix(monorepo.root, directory);
  if (directory === monorepo.root) throw new ScaffoldError('the service needs a folder of its own');
  if (directory.split(sep).includes('node_modules')) {
    throw new ScaffoldError('a service cannot live under node_modules (Node does not strip types there)');
  }
  checkNotTaken(monorepo, names.name, names.packageName, directory);
  if (existsSync(directory) && (await readdir(directory)).length > 0) {
    throw new ScaffoldError(`${directory} exists and is not empty: refusing to overwrite it`);
  }

  const versions = await sharedVersions(monorepo.root);
  const values: TemplateValues = {
    ...names,
    ...versions,
    port,
    metricsPort,
    root: relativePosix(directory, monorepo.root),
    serviceDir: folder,
    deployFromBase: relativePosix(join(monorepo.root, 'deploy', 'base'), join(directory, 'deploy')),
  };

  const files = await writeTemplates([{ dir: templateDir }], directory, values);

  const formatError = options.format === false ? undefined : await formatFolder(monorepo.root, directory);
  const formatted = options.format !== false && formatError === undefined;
  return {
    directory,
    folder,
    root: monorepo.root,
    packageName: names.packageName,
    toolName: names.toolName,
    port,
    metricsPort,
    files,
    formatted,
    standalone: false,
    nextSteps: nextSteps(monorepo, { ...names, folder, port, values, formatError }),
  };
}

function checkNotTaken(monorepo: Monorepo, name: string, packageName: string, directory: string) {
  for (const taken of [packageName, `@toolmesh/${name}`]) {
    const at = monorepo.packages.get(taken);
    if (at !== undefined) throw new ScaffoldError(`a workspace package ${taken} exists already (${at})`);
  }
  for (const folder of [join('services', name), join('deploy', 'base', name)]) {
    const path = join(monorepo.root, folder);
    if (existsSync(path) && path !== directory) {
      throw new ScaffoldError(
        `a service named "${name}" exists already (${relativePosix(monorepo.root, path)})`,
      );
    }
  }
}

/** The workspace versions of the shared packages, and zod's as the tool SDK pins it. */
async function sharedVersions(root: string) {
  const versions: Record<string, string> = {};
  for (const name of sharedPackages) {
    const pkg = await readPackageJson(join(root, 'packages', name, 'package.json'));
    if (!pkg?.version) throw new ScaffoldError(`packages/${name}/package.json is missing or has no version`);
    const key = name.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());
    versions[`${key}Version`] = pkg.version;
  }
  const zod = (await readPackageJson(join(root, 'packages', 'tool-sdk', 'package.json')))?.dependencies?.zod;
  if (!zod) throw new ScaffoldError('packages/tool-sdk/package.json does not depend on zod');
  versions.zodVersion = zod;
  return versions;
}

interface StepFacts {
  name: string;
  packageName: string;
  toolName: string;
  folder: string;
  port: number;
  values: TemplateValues;
  formatError: string | undefined;
}

function nextSteps(monorepo: Monorepo, f: StepFacts): string[] {
  const steps: string[] = [];
  if (!isWorkspaceFolder(monorepo, f.folder)) {
    steps.push(
      `Add "${f.folder}" to "workspaces" in the root package.json: the Dockerfile's npm ci installs ` +
        'workspaces only.',
    );
  }
  if (!/^(packages|services)\/[^/.][^/]*$/.test(f.folder)) {
    steps.push(`Add "<rootDir>/${f.folder}/test/**/*.test.ts" to testMatch in jest.config.js.`);
  }
  if (f.formatError !== undefined)
    steps.push(`Run npm run format (the formatter did not run: ${f.formatError}).`);
  steps.push(
    `Run npm install at the repository root: it links ${f.packageName} and records it in ` +
      'package-lock.json, which the image build (npm ci) needs.',
    `Check it: npm test -- ${f.folder}/ and npx tsc -p ${f.folder}/tsconfig.json.`,
    `Run it: node ${f.folder}/src/main.ts (127.0.0.1:${f.port}). With DISCOVERY=etcd and ` +
      "ETCD_ENDPOINTS it registers itself; with static discovery add its address to the orchestrator's " +
      'TOOL_SERVICES.',
    `Grant "${f.name}:read" to the callers who may use ${f.toolName} (the gateway's TOOLMESH_API_KEYS ` +
      'or your identity provider); others see it listed but not offered.',
    `docker compose: add a "${f.name}" service to docker-compose.yml (the snippet is in ${f.folder}/README.md).`,
    `Kubernetes: add "- ${f.values.deployFromBase}" to the resources of deploy/base/kustomization.yaml and ` +
      `tag the image toolmesh/${f.name} in each overlay; with DISCOVERY=dns also add ` +
      `${f.name}.toolmesh.svc.cluster.local:${f.port} to TOOL_SERVICES in deploy/base/orchestrator/kustomization.yaml.`,
  );
  return steps;
}
