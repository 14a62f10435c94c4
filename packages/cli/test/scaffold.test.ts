// `toolmesh new-tool-service`: the generated service type-checks, is formatted as the repository
// wants, passes its own test under the repository's jest, renders in the repository's kustomize
// overlays, and — started as a process with DISCOVERY=etcd next to a real mesh — registers
// itself: the gateway's registry lists its tool until SIGTERM takes it out.
//
// It is generated into services/.scaffold-test-<pid>-<random>/, inside the repository (so that
// @toolmesh/* resolve through the root node_modules) but matched by no workspace pattern, no
// jest testMatch and no deep-import check; the folder is removed afterwards.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { freeMeshPorts, type Mesh, type ServiceProcess, spawnService, startMesh } from '@toolmesh/devstack';
import { RegistryService } from '@toolmesh/proto';
import {
  createTestDatabase,
  freePort,
  startEtcd,
  type TestDatabase,
  type TestEtcd,
  waitFor,
} from '@toolmesh/testkit';
import {
  formatScaffoldResult,
  ScaffoldError,
  type ScaffoldResult,
  scaffoldStandaloneToolService,
  scaffoldToolService,
  serviceNames,
} from '../src/scaffold/index.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const name = 'loyalty-points';
const toolName = 'get_loyalty_points_item';

let scratch: string;
let result: ScaffoldResult;

beforeAll(async () => {
  scratch = await mkdtemp(join(root, 'services', `.scaffold-test-${process.pid}-`));
  result = await scaffoldToolService({ name, directory: join(scratch, name), cwd: root });
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  output: string;
}

/** Runs a command to its end (killed after timeoutMs); never rejects. */
function runCommand(file: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: root, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

/** Polls until check() answers true (testkit's waitFor, a generous deadline); gives up at once when `stop` aborts. */
function until(check: () => Promise<boolean>, timeoutMs: number, what: string, stop?: AbortSignal) {
  return waitFor(
    async () => {
      if (stop?.aborted) throw new Error(`${what}: gave up`);
      return check().catch(() => false);
    },
    { what, timeoutMs },
  );
}

describe('generation', () => {
  test('writes the package, config, server, one tool, main, a test, Dockerfile, manifests and README', async () => {
    expect(result.files).toEqual([
      'Dockerfile',
      'README.md',
      'deploy/deployment.yaml',
      'deploy/hpa.yaml',
      'deploy/kustomization.yaml',
      'deploy/networkpolicy.yaml',
      'deploy/pdb.yaml',
      'deploy/service.yaml',
      'deploy/serviceaccount.yaml',
      'package.json',
      'src/config.ts',
      'src/index.ts',
      'src/loyalty-points-tools.ts',
      'src/main.ts',
      'src/server.ts',
      'test/loyalty-points.test.ts',
      'tsconfig.json',
    ]);
    expect(result).toMatchObject({
      folder: relative(root, join(scratch, name)),
      packageName: '@toolmesh/loyalty-points-service',
      toolName,
      port: 50_080,
      metricsPort: 9_430,
      formatted: true,
    });
    const read = (file: string) => readFile(join(result.directory, file), 'utf8');
    const pkg = JSON.parse(await read('package.json'));
    expect(pkg).toMatchObject({ name: '@toolmesh/loyalty-points-service', type: 'module', private: true });
    expect(Object.keys(pkg.scripts).sort()).toEqual(['start', 'test', 'typecheck']);
    expect(pkg.dependencies).toMatchObject({ '@toolmesh/tool-sdk': '0.1.0', '@toolmesh/config': '0.1.0' });
    expect(pkg.devDependencies).toMatchObject({ '@toolmesh/testkit': '0.1.0' });
    expect(JSON.parse(await read('tsconfig.json')).extends).toBe('../../../tsconfig.base.json');
    expect(await read('src/config.ts')).toContain('PORT: port(50080)');
    const dockerfile = await read('Dockerfile');
    expect(dockerfile).toContain(`CMD ["node", "${result.folder}/src/main.ts"]`);
    expect(dockerfile).toContain(`--workspace ${result.folder} `);
    expect(dockerfile).toContain('EXPOSE 50080 9430');
    expect(await read('deploy/service.yaml')).toContain('clusterIP: None');
    // Zero trust: the mesh's public keys from the ConfigMap, at the path the variable names.
    const deployment = await read('deploy/deployment.yaml');
    expect(deployment).toContain('name: toolmesh-mesh-jwks');
    expect(deployment).toMatch(/TOOLMESH_MESH_JWKS_FILE\n\s+value: \/etc\/toolmesh\/mesh\/jwks.json/);
    expect(deployment).toMatch(/mountPath: \/etc\/toolmesh\/mesh\n\s+readOnly: true/);
    expect(await read('src/server.ts')).toContain('createToolServer');
    // Outside services/* it is no workspace and no test root yet: the steps say so.
    expect(result.nextSteps[0]).toMatch(/to "workspaces" in the root package.json/);
    const report = formatScaffoldResult(result);
    expect(report).toContain(`Created @toolmesh/loyalty-points-service in ${result.folder}`);
    expect(report).toContain('  src/loyalty-points-tools.ts\n');
  });

  test('derives names from a kebab-case name, and refuses anything else', async () => {
    expect(serviceNames('a2-b')).toEqual({
      name: 'a2-b',
      snake: 'a2_b',
      pascal: 'A2B',
      packageName: '@toolmesh/a2-b-service',
      toolName: 'get_a2_b_item',
    });
    for (const bad of ['Loyalty', 'loyalty_points', 'a--b', '-a', 'a-', '2fa', 'x', 'a'.repeat(41), 'etcd']) {
      await expect(
        scaffoldToolService({ name: bad, directory: join(scratch, 'bad'), cwd: root }),
      ).rejects.toThrow(ScaffoldError);
    }
    expect(existsSync(join(scratch, 'bad'))).toBe(false);
  });

  test('refuses existing services, non-empty folders, bad ports and folders outside the monorepo', async () => {
    const attempt = (options: Partial<Parameters<typeof scaffoldToolService>[0]>) =>
      scaffoldToolService({ name: 'fresh', directory: join(scratch, 'fresh'), cwd: root, ...options });
    await expect(attempt({ name: 'inventory' })).rejects.toThrow(/exists already/);
    await expect(attempt({ name: 'gateway' })).rejects.toThrow(/exists already/);
    const before = await readFile(join(result.directory, 'src/main.ts'), 'utf8');
    await expect(attempt({ directory: result.directory })).rejects.toThrow(/refusing to overwrite/);
    expect(await readFile(join(result.directory, 'src/main.ts'), 'utf8')).toBe(before);
    await expect(attempt({ port: 70_000 })).rejects.toThrow(/invalid port/);
    await expect(attempt({ port: 9_000, metricsPort: 9_000 })).rejects.toThrow(/must differ/);
    await expect(attempt({ directory: join(tmpdir(), `toolmesh-scaffold-${process.pid}`) })).rejects.toThrow(
      /not inside a toolmesh monorepo/,
    );
    expect(existsSync(join(scratch, 'fresh'))).toBe(false);
  });

  test('defaults to services/<name> of the monorepo around cwd, a workspace there', async () => {
    // A minimal stand-in monorepo, so that the real services/ is left alone.
    const fake = await mkdtemp(join(tmpdir(), 'toolmesh-fake-repo-'));
    try {
      await writeFile(
        join(fake, 'package.json'),
        JSON.stringify({ workspaces: ['packages/*', 'services/*'] }),
      );
      for (const pkg of ['config', 'proto', 'rpc', 'telemetry', 'testkit', 'tool-sdk']) {
        await mkdir(join(fake, 'packages', pkg), { recursive: true });
        const manifest = { name: `@toolmesh/${pkg}`, version: '1.2.3', dependencies: { zod: '4.0.0' } };
        await writeFile(join(fake, 'packages', pkg, 'package.json'), JSON.stringify(manifest));
      }
      const made = await scaffoldToolService({ name: 'billing', cwd: join(fake, 'packages'), format: false });
      expect(made.directory).toBe(join(fake, 'services', 'billing'));
      expect(made.folder).toBe('services/billing');
      expect(made.nextSteps.join('\n')).not.toMatch(/workspaces|testMatch/);
      expect(made.nextSteps.join('\n')).toContain('- ../../services/billing/deploy');
      const pkg = JSON.parse(await readFile(join(made.directory, 'package.json'), 'utf8'));
      expect(pkg.dependencies).toMatchObject({ '@toolmesh/rpc': '1.2.3', zod: '4.0.0' });
      expect(pkg.scripts.test).toBe('cd ../.. && npm test -- services/billing/');
      await expect(scaffoldToolService({ name: 'billing', cwd: fake, format: false })).rejects.toThrow(
        /exists already|refusing to overwrite/,
      );
    } finally {
      await rm(fake, { recursive: true, force: true });
    }
  });
  test('docs/tool-teams.md shows the generated tool and main.ts as they are', async () => {
    const doc = await readFile(join(root, 'docs', 'tool-teams.md'), 'utf8');
    const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    const code = (text: string) =>
      text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('//'));
    for (const [block, file] of [
      [blocks[0], 'src/loyalty-points-tools.ts'],
      [blocks[1], 'src/main.ts'],
    ] as const) {
      const generated = code(await readFile(join(result.directory, file), 'utf8')).join('\n');
      expect(generated).toContain(code(block ?? '').join('\n'));
    }
  });
});

// The standalone layout is generated here and checked as files; packages/devstack/test/
// standalone-tool-service.test.ts installs it from the packed SDK, runs its test and type-check,
// and serves a chat with it beside a mesh.
describe('--standalone: a service in a repository of its own', () => {
  let outside: string;
  let made: ScaffoldResult;

  beforeAll(async () => {
    outside = await mkdtemp(join(tmpdir(), 'toolmesh-standalone-scaffold-'));
    made = await scaffoldStandaloneToolService({ name, cwd: outside });
  });

  afterAll(async () => {
    if (outside) await rm(outside, { recursive: true, force: true });
  });

  test('writes package, the same sources, a node:test test, Dockerfile and README into ./<name>', async () => {
    expect(made).toMatchObject({
      directory: join(outside, name),
      folder: name,
      root: resolve(root),
      packageName: 'loyalty-points-service',
      toolName,
      port: 50_080,
      metricsPort: 9_430,
      formatted: true,
      standalone: true,
    });
    expect(made.files).toEqual([
      '.dockerignore',
      '.gitignore',
      'Dockerfile',
      'README.md',
      'package.json',
      'src/config.ts',
      'src/health-check.ts',
      'src/index.ts',
      'src/loyalty-points-tools.ts',
      'src/main.ts',
      'src/server.ts',
      'test/loyalty-points.test.ts',
      'tsconfig.json',
    ]);
    const read = (file: string) => readFile(join(made.directory, file), 'utf8');
    // The sources are the workspace service's, file for file.
    for (const file of [
      'src/config.ts',
      'src/index.ts',
      'src/loyalty-points-tools.ts',
      'src/main.ts',
      'src/server.ts',
    ]) {
      expect(await read(file)).toBe(await readFile(join(result.directory, file), 'utf8'));
    }
    // The published packages at the versions `npm run pack:sdk` packs here; the type checker as the repository pins it.
    const version = async (pkg: string) =>
      JSON.parse(await readFile(join(root, 'packages', pkg, 'package.json'), 'utf8')).version as string;
    const rootManifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
    const pkg = JSON.parse(await read('package.json'));
    expect(pkg).toMatchObject({ name: 'loyalty-points-service', type: 'module', private: true });
    expect(pkg.workspaces).toBeUndefined();
    expect(pkg.scripts).toEqual({
      start: 'node src/main.ts',
      test: 'node --test "test/**/*.test.ts"',
      typecheck: 'tsc -p tsconfig.json',
    });
    expect(pkg.dependencies).toEqual({
      '@toolmesh/config': await version('config'),
      '@toolmesh/proto': await version('proto'),
      '@toolmesh/rpc': await version('rpc'),
      '@toolmesh/telemetry': await version('telemetry'),
      '@toolmesh/tool-sdk': await version('tool-sdk'),
      zod: expect.stringMatching(/^\d+\.\d+\.\d+$/),
    });
    expect(pkg.devDependencies).toEqual({
      '@types/node': rootManifest.devDependencies['@types/node'],
      typescript: rootManifest.devDependencies.typescript,
    });
    // Nothing points back into a toolmesh checkout.
    for (const file of made.files)
      expect(await read(file)).not.toMatch(/\.\.\/\.\.\/|tsconfig\.base|testkit/);
    const dockerfile = await read('Dockerfile');
    expect(dockerfile).toContain('COPY package.json package-lock.json *.tgz ./');
    expect(dockerfile).toContain('CMD ["node", "src/main.ts"]');
    expect(dockerfile).toContain('EXPOSE 50080 9430');
    expect(dockerfile).not.toContain('--workspace');
    expect(await read('test/loyalty-points.test.ts')).toContain("from 'node:test'");
    expect(made.nextSteps[0]).toContain(`npm run pack:sdk -- ${made.directory}`);
    expect(formatScaffoldResult(made)).toContain(`Created loyalty-points-service in ${name}`);
  });

  test('refuses a folder inside the toolmesh repository, a non-empty folder and bad names', async () => {
    await expect(
      scaffoldStandaloneToolService({ name: 'fresh', directory: join(scratch, 'standalone'), cwd: root }),
    ).rejects.toThrow(/inside the toolmesh repository/);
    expect(existsSync(join(scratch, 'standalone'))).toBe(false);
    await expect(scaffoldStandaloneToolService({ name, cwd: outside })).rejects.toThrow(
      /refusing to overwrite/,
    );
    await expect(scaffoldStandaloneToolService({ name: 'Bad_Name', cwd: outside })).rejects.toThrow(
      ScaffoldError,
    );
    await expect(
      scaffoldStandaloneToolService({ name: 'fresh', cwd: outside, sdkRoot: tmpdir() }),
    ).rejects.toThrow(/no toolmesh checkout/);
    expect(existsSync(join(outside, 'fresh'))).toBe(false);
  });
});

describe('the generated service', () => {
  test('type-checks with the repository tsconfig', async () => {
    const run = await runCommand(bin('tsc'), ['-p', join(result.directory, 'tsconfig.json')], 120_000);
    expect(run.output).toBe('');
    expect(run.code).toBe(0);
  }, 130_000);

  test('passes biome (format, lint, imports), also with the longest name allowed', async () => {
    const long = await scaffoldToolService({
      name: 'a-very-long-service-name-for-the-format1',
      directory: join(scratch, 'long'),
      cwd: root,
    });
    expect(long.formatted).toBe(true);
    const run = await runCommand(bin('biome'), ['check', result.directory, long.directory], 180_000);
    expect(run.output).toMatch(/Checked \d+ files/);
    expect(run.code).toBe(0);
    const typecheck = await runCommand(bin('tsc'), ['-p', join(long.directory, 'tsconfig.json')], 120_000);
    expect(typecheck.output).toBe('');
  }, 330_000);

  test("passes its own test under the repository's jest", async () => {
    const { default: base } = (await import(pathToFileURL(join(root, 'jest.config.js')).href)) as {
      default: Record<string, unknown>;
    };
    const config = { ...base, rootDir: result.directory, testMatch: ['<rootDir>/test/**/*.test.ts'] };
    const run = await runCommand(
      process.execPath,
      [
        '--experimental-vm-modules',
        '--no-warnings=ExperimentalWarning',
        join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
        '--ci',
        '--config',
        JSON.stringify(config),
      ],
      120_000,
    );
    expect(run.output).toMatch(/Tests:\s+7 passed, 7 total/);
    expect(run.code).toBe(0);
  }, 130_000);

  const kubectl = (process.env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir, 'kubectl'))
    .find((path) => existsSync(path));
  test("renders in the repository's kustomize overlays and passes scripts/validate-k8s.ts", async () => {
    if (!kubectl) {
      throw new Error(
        'kubectl (with kustomize v5) is not on PATH: install it, or see scripts/validate-deploy.sh',
      );
    }
    // A copy of deploy/ whose base includes the service, as its README says to do.
    const deploy = join(scratch, 'deploy');
    await cp(join(root, 'deploy'), deploy, { recursive: true });
    const base = join(deploy, 'base', 'kustomization.yaml');
    const include = relative(join(deploy, 'base'), join(result.directory, 'deploy'));
    const text = await readFile(base, 'utf8');
    await writeFile(base, text.replace(/^resources:\n/m, `resources:\n  - ${include}\n`));
    for (const overlay of ['dev', 'prod']) {
      const render = await runCommand(
        kubectl ?? 'kubectl',
        ['kustomize', join(deploy, 'overlays', overlay)],
        60_000,
      );
      expect(render.code).toBe(0);
      const rendered = join(scratch, `${overlay}.yaml`);
      await writeFile(rendered, render.output);
      // The shared ConfigMap's generated (hashed) name reached the new Deployment too.
      expect(render.output).not.toMatch(/name: toolmesh-common\n/);
      expect(render.output).toContain(`image: toolmesh/${name}:`);
      const flags = overlay === 'prod' ? ['--external-secret', 'toolmesh-secrets', '--require-hpa'] : [];
      const validate = await runCommand(
        process.execPath,
        [join(root, 'scripts', 'validate-k8s.ts'), ...flags, rendered],
        120_000,
      );
      expect(validate.output).toMatch(/: valid\n/);
      expect(validate.code).toBe(0);
    }
  }, 300_000);
});

describe('started with DISCOVERY=etcd next to a mesh', () => {
  const prefix = `/toolmesh-scaffold-test-${process.pid}/`;
  let etcd: TestEtcd;
  let db: TestDatabase;
  let mesh: Mesh;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    etcd = await startEtcd();
    db = await createTestDatabase();
    const ports = await freeMeshPorts();
    mesh = await startMesh({
      ports,
      databaseUrl: db.url,
      etcd: { endpoint: etcd.endpoint, prefix },
      env: { LOG_LEVEL: 'error', REGISTRATION_TTL_SECONDS: '3' },
    });
  }, 120_000);

  afterAll(async () => {
    await service?.stop(5_000);
    await mesh?.stop();
    await db?.drop();
    await etcd?.stop();
  }, 60_000);

  test("registers itself: the gateway's registry lists its tool; SIGTERM takes it out", async () => {
    const withKey: Interceptor = (next) => (req) => {
      // An operator (registry:admin) sees the endpoint addresses too.
      req.header.set('authorization', 'Bearer dev-key-operator');
      return next(req);
    };
    const registry = createClient(
      RegistryService,
      createGrpcTransport({
        baseUrl: `http://${mesh.grpcAddresses.gateway}`,
        interceptors: [withKey],
        defaultTimeoutMs: 10_000,
      }),
    );
    const listed = async () =>
      (await registry.listRegisteredTools({})).tools.find((t) => t.definition?.name === toolName);

    const port = await freePort();
    const proc = spawnService({
      name,
      entry: join(result.directory, 'src', 'main.ts'),
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: '0',
        DISCOVERY: 'etcd',
        ETCD_ENDPOINTS: etcd.endpoint,
        DISCOVERY_PREFIX: prefix,
        REGISTRATION_TTL_SECONDS: '3',
        LOG_LEVEL: 'info',
        // The mesh's public keys: the orchestrator's ListTools calls are signed with its key.
        TOOLMESH_MESH_JWKS_FILE: mesh.meshKeys.jwksFile,
      },
    });
    service = proc;
    await until(
      async () => (await listed()) !== undefined,
      30_000,
      `${toolName} in the registry`,
      proc.exited,
    ).catch((error: Error) => {
      const why = proc.exited.aborted ? `${name} exited with code ${proc.child.exitCode}` : error.message;
      throw new Error(`${why}. Its last lines:\n${proc.tail()}`);
    });
    const tool = await listed();
    expect(tool?.addresses).toEqual([`127.0.0.1:${port}`]);
    expect(tool?.available).toBe(true);
    // dev-key-operator has no loyalty-points:read: listed, not offered to the model for this caller.
    expect(tool?.permitted).toBe(false);
    expect(proc.tail()).toContain('loyalty-points service listening');

    // SIGTERM: NOT_SERVING → deregister → drain → close, exit 0; the registry drops the tool.
    await proc.stop(10_000);
    expect(proc.child.exitCode).toBe(0);
    await until(async () => (await listed()) === undefined, 30_000, `${toolName} gone from the registry`);
  }, 90_000);
});

describe('the toolmesh new-tool-service command', () => {
  test('scaffolds through the CLI, and refuses a bad name with a usage error', async () => {
    const target = join(scratch, 'cli-made');
    const made = await runCommand(
      bin('toolmesh'),
      ['new-tool-service', 'gift-cards', '--dir', relative(root, target), '--port', '50099'],
      180_000,
    );
    // The whole run on a failure: what the command said is what tells why.
    expect(made).toEqual({ code: 0, output: expect.stringMatching(/gift-cards/) });
    expect(existsSync(join(target, 'src', 'main.ts'))).toBe(true);
    expect(await readFile(join(target, 'src', 'config.ts'), 'utf8')).toMatch(/50_?099/);

    const bad = await runCommand(bin('toolmesh'), ['new-tool-service', 'Gift_Cards'], 180_000);
    expect(bad).toEqual({ code: 2, output: expect.stringMatching(/error: /) });
  }, 400_000);
});
