import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findMonorepo, type Monorepo, readPackageJson, relativePosix } from './find-monorepo.ts';
import type { TemplateValues } from './render-template.ts';
import { ScaffoldError } from './scaffold-error.ts';
import { defaultToolServicePort, type ScaffoldResult } from './scaffold-tool-service.ts';
import { serviceNames } from './service-name.ts';
import { checkPort, defaultMetricsPort, formatFolder, writeTemplates } from './write-templates.ts';

/** Options of {@link scaffoldStandaloneToolService}. */
export interface ScaffoldStandaloneOptions {
  /** The service's name, kebab-case, e.g. "loyalty-points". */
  name: string;
  /**
   * Folder of the new service, relative to `cwd`, outside any toolmesh checkout; created, and
   * refused if it exists and is not empty. Default: `<cwd>/<name>`.
   */
  directory?: string;
  /** Default gRPC port (config.ts, Dockerfile); default 50080. */
  port?: number;
  /** Default /metrics port; default derived like the demo services' (50062 → 9412). */
  metricsPort?: number;
  /** Where a relative `directory` resolves; default process.cwd(). */
  cwd?: string;
  /**
   * The toolmesh checkout whose package versions the service depends on (the versions
   * `npm run pack:sdk` packs there); default the checkout this command runs from.
   */
  sdkRoot?: string;
  /** Formats the new files with the toolmesh repository's biome (long names wrap lines); default true. */
  format?: boolean;
}

// The source files are the same as a workspace service's; package, test, Dockerfile and README differ.
const sharedTemplates = fileURLToPath(new URL('../../templates/tool-service/', import.meta.url));
const standaloneTemplates = fileURLToPath(
  new URL('../../templates/standalone-tool-service/', import.meta.url),
);
const ownRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** The published packages the generated service imports, by template key. */
const sdkPackages = {
  configVersion: '@toolmesh/config',
  protoVersion: '@toolmesh/proto',
  rpcVersion: '@toolmesh/rpc',
  telemetryVersion: '@toolmesh/telemetry',
  toolSdkVersion: '@toolmesh/tool-sdk',
} as const;

/**
 * Generates a tool service for a repository of its own, on the published SDK packages
 * (`@toolmesh/tool-sdk` and what it needs, as `npm run pack:sdk` packs them) instead of the
 * workspace: package, config, server, one read tool, main, a test on Node's test runner, a
 * Dockerfile built from its own folder, README. Throws {@link ScaffoldError} for a bad name or
 * port, a folder inside a toolmesh checkout, or a non-empty folder; nothing is left behind on failure.
 */
export async function scaffoldStandaloneToolService(
  options: ScaffoldStandaloneOptions,
): Promise<ScaffoldResult> {
  const names = serviceNames(options.name);
  const port = checkPort('port', options.port ?? defaultToolServicePort);
  const metricsPort = checkPort('metrics port', options.metricsPort ?? defaultMetricsPort(port));
  if (metricsPort === port) throw new ScaffoldError('the gRPC and metrics ports must differ');

  const cwd = resolve(options.cwd ?? process.cwd());
  const directory = resolve(cwd, options.directory ?? names.name);
  if (directory.split(sep).includes('node_modules')) {
    throw new ScaffoldError('a service cannot live under node_modules (Node does not strip types there)');
  }
  const around = await findMonorepo(directory);
  if (around) {
    throw new ScaffoldError(
      `${directory} is inside the toolmesh repository (${around.root}): a standalone service lives in a ` +
        'repository of its own (leave out --standalone for a workspace service here)',
    );
  }
  if (existsSync(directory) && (await readdir(directory)).length > 0) {
    throw new ScaffoldError(`${directory} exists and is not empty: refusing to overwrite it`);
  }
  const sdkRoot = resolve(options.sdkRoot ?? ownRoot);
  const sdk = await findMonorepo(sdkRoot);
  if (!sdk) throw new ScaffoldError(`${sdkRoot} is no toolmesh checkout: the SDK versions are read there`);

  const packageName = `${names.name}-service`;
  const values: TemplateValues = { ...names, packageName, ...(await sdkVersions(sdk)), port, metricsPort };
  const files = await writeTemplates(
    [{ dir: sharedTemplates, only: (file) => file.startsWith('src/') }, { dir: standaloneTemplates }],
    directory,
    values,
  );

  const formatError = options.format === false ? undefined : await formatFolder(sdk.root, directory);
  const folder = relativePosix(cwd, directory) || '.';
  return {
    directory,
    folder,
    root: sdk.root,
    packageName,
    toolName: names.toolName,
    port,
    metricsPort,
    files,
    formatted: options.format !== false && formatError === undefined,
    standalone: true,
    nextSteps: [
      `Install the SDK: in ${sdk.root} run npm run pack:sdk -- ${directory}, then in ${folder} ` +
        'npm install ./toolmesh-*.tgz (all of them: they depend on each other). Once the @toolmesh/* ' +
        'packages are on your npm registry, npm install is enough.',
      ...(formatError === undefined ? [] : [`The files are not formatted (${formatError}).`]),
      `Check it: npm test and npm run typecheck in ${folder}.`,
      `Run it: TOOLMESH_MESH_JWKS_FILE=<the mesh's jwks.json> npm start (127.0.0.1:${port}). With ` +
        "DISCOVERY=etcd and ETCD_ENDPOINTS it registers itself; with static discovery add its address to the orchestrator's " +
        'TOOL_SERVICES.',
      `Grant "${names.name}:read" to the callers who may use ${names.toolName} (the gateway's ` +
        'TOOLMESH_API_KEYS or your identity provider); others see it listed but not offered.',
      `Image: docker build -t ${names.name} ${folder}.`,
    ],
  };
}

/** The versions of the SDK packages in the checkout, zod's as the SDK pins it, and the type-check tools'. */
async function sdkVersions(sdk: Monorepo): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  for (const [key, name] of Object.entries(sdkPackages)) {
    const folder = sdk.packages.get(name);
    const pkg =
      folder === undefined ? undefined : await readPackageJson(join(sdk.root, folder, 'package.json'));
    if (!pkg?.version) throw new ScaffoldError(`${name} is missing from ${sdk.root} or has no version`);
    versions[key] = pkg.version;
  }
  const toolSdk = await readPackageJson(
    join(sdk.root, sdk.packages.get('@toolmesh/tool-sdk') ?? '', 'package.json'),
  );
  const zod = toolSdk?.dependencies?.zod;
  if (!zod) throw new ScaffoldError('@toolmesh/tool-sdk does not depend on zod');
  versions.zodVersion = zod;
  const root = await readPackageJson(join(sdk.root, 'package.json'));
  for (const [key, name] of [
    ['typescriptVersion', 'typescript'],
    ['typesNodeVersion', '@types/node'],
  ] as const) {
    const version = root?.devDependencies?.[name];
    if (!version) throw new ScaffoldError(`${sdk.root}/package.json has no devDependency ${name}`);
    versions[key] = version;
  }
  return versions;
}
