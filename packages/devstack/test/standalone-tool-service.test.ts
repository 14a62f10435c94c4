// A tool team outside this repository: `npm run pack:sdk` packs @toolmesh/tool-sdk and what it
// needs as npm tarballs (JavaScript and type declarations); `toolmesh new-tool-service --standalone`
// scaffolds a service in a temporary folder outside the repository, which installs only those
// tarballs and public npm packages. The service passes its own test and type-check there, runs with
// plain `node` (its dependencies are JavaScript: Node strips no types under node_modules), verifies
// the mesh's credentials with the mesh's public keys, and serves a chat through the gateway.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@connectrpc/connect';
import { ChatService, RegistryService } from '@toolmesh/proto';
import { type MeshKeyFiles, writeMeshKeyFiles } from '@toolmesh/rpc';
import {
  type CannedRequest,
  createTestDatabase,
  freePort,
  startCannedModel,
  type TestDatabase,
  waitFor,
} from '@toolmesh/testkit';
import { freeMeshPorts, type Mesh, type ServiceProcess, spawnService, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const name = 'gift-cards';
const toolName = 'get_gift_cards_item';
const readerKey = 'standalone-test-reader-key';
const operatorKey = 'standalone-test-operator-key';
const apiKeys = {
  [readerKey]: { user_id: 'u_1001', tenant_id: 't_demo', permissions: [`${name}:read`] },
  [operatorKey]: { user_id: 'ops', tenant_id: 't_demo', permissions: ['registry:admin'] },
};

interface Run {
  code: number | null;
  output: string;
}

// npm and the service's scripts run with this test's Node first on PATH (Node 24, whatever the system's).
const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };

/** Runs a command to its end (killed after timeoutMs); never rejects. */
function runCommand(file: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

async function mustRun(file: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  const run = await runCommand(file, args, cwd, timeoutMs);
  if (run.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${run.code}):\n${run.output}`);
  return run.output;
}

// The model: a user message that is a JSON list of tool calls is answered with those calls;
// once tool results came back, the reply quotes them.
function respond(request: CannedRequest) {
  const last = request.messages.at(-1);
  if (last?.role === 'tool') {
    const results = request.messages.filter((m) => m.role === 'tool').map((m) => m.content ?? '');
    return { content: `results: ${results.join(' | ')}` };
  }
  const calls = JSON.parse(last?.content ?? '[]') as { name: string; arguments: unknown }[];
  return {
    toolCalls: calls.map((c, i) => ({
      id: `call_${i}`,
      name: c.name,
      arguments: JSON.stringify(c.arguments),
    })),
  };
}

interface Packed {
  name: string;
  version: string;
  tarball: string;
  files: string[];
}

let scratch: string;
let service: string;
let packed: Packed[];
let db: TestDatabase | undefined;
let model: Awaited<ReturnType<typeof startCannedModel>> | undefined;
let mesh: Mesh | undefined;
let meshKeys: MeshKeyFiles;
let port: number;
let proc: ServiceProcess | undefined;
let meshStarting: Promise<void> | undefined;
let ownTest: Promise<Run> | undefined;
let ownTypecheck: Promise<Run> | undefined;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'toolmesh-standalone-'));
  service = join(scratch, name);
  port = await freePort();
  meshKeys = await writeMeshKeyFiles(join(scratch, 'mesh-keys'));
  db = await createTestDatabase();
  model = await startCannedModel(respond);
  const { baseUrl } = model;
  const databaseUrl = db.url;

  // The mesh starts while the SDK is packed and installed: the orchestrator lists the new
  // service's tools once it answers (every second here).
  const meshStarted = (async () =>
    startMesh({
      ports: await freeMeshPorts(),
      databaseUrl,
      model: { baseUrl },
      meshKeys,
      extraToolServices: [`127.0.0.1:${port}`],
      env: { LOG_LEVEL: 'warn' },
      serviceEnv: {
        orchestrator: { TOOL_REFRESH_MS: '1000' },
        gateway: { TOOLMESH_API_KEYS: JSON.stringify(apiKeys) },
      },
    }))();
  // Kept even when packing fails first, so that afterAll can stop what did start.
  meshStarting = meshStarted.then((started) => {
    mesh = started;
  });
  meshStarting.catch(() => undefined);

  // The scaffold and the tarballs are made side by side, then the SDK is installed from only the
  // tarballs and the public registry (its packages mostly in npm's cache already).
  const packs = join(scratch, 'packs');
  const [, packOutput] = await Promise.all([
    mustRun(
      join(root, 'node_modules', '.bin', 'toolmesh'),
      ['new-tool-service', name, '--standalone', '--dir', service],
      scratch,
      60_000,
    ),
    mustRun(process.execPath, [join(root, 'scripts', 'pack-sdk.ts'), packs, '--json'], root, 120_000),
  ]);
  packed = JSON.parse(packOutput) as Packed[];
  await mustRun(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--fetch-retries=1',
      '--fetch-timeout=30000',
      ...packed.map((p) => `../packs/${basename(p.tarball)}`),
    ],
    service,
    150_000,
  );
  // The service's own checks run while the mesh finishes starting and the chat runs.
  ownTest = runCommand('npm', ['test'], service, 180_000);
  ownTypecheck = runCommand('npm', ['run', 'typecheck'], service, 240_000);
  await meshStarting;
}, 300_000);

afterAll(async () => {
  await Promise.all([ownTest, ownTypecheck]);
  await proc?.stop(5_000);
  await meshStarting?.catch(() => undefined);
  await mesh?.stop();
  await model?.close();
  await db?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
}, 60_000);

describe('the packed SDK', () => {
  test('is @toolmesh/tool-sdk and the workspace packages it needs, JavaScript with declarations', async () => {
    expect(packed.map((p) => p.name).sort()).toEqual([
      '@toolmesh/clock',
      '@toolmesh/config',
      '@toolmesh/db',
      '@toolmesh/discovery',
      '@toolmesh/proto',
      '@toolmesh/resilience',
      '@toolmesh/rpc',
      '@toolmesh/telemetry',
      '@toolmesh/tool-sdk',
    ]);
    const versions = new Map(packed.map((p) => [p.name, p.version]));
    for (const pkg of packed) {
      const folder = pkg.name.slice('@toolmesh/'.length);
      const workspace = JSON.parse(await readFile(join(root, 'packages', folder, 'package.json'), 'utf8'));
      expect(pkg.version).toBe(workspace.version);
      // No TypeScript source: JavaScript and declarations (the generated proto code too).
      expect(pkg.files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
      expect(pkg.files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'package.json']));

      // The installed manifest is the packed one.
      const manifest = JSON.parse(
        await readFile(join(service, 'node_modules', pkg.name, 'package.json'), 'utf8'),
      );
      expect(manifest).toMatchObject({
        name: pkg.name,
        version: workspace.version,
        type: 'module',
        license: workspace.license,
        files: ['dist'],
        exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
      });
      expect(manifest.private).toBeUndefined();
      expect(manifest.devDependencies).toBeUndefined();
      for (const [dep, spec] of Object.entries(manifest.dependencies as Record<string, string>)) {
        // @toolmesh/* at the packed versions; public packages at the repository's exact versions.
        const expected =
          versions.get(dep) ?? workspace.dependencies?.[dep] ?? workspace.devDependencies?.[dep];
        expect(`${dep}@${spec}`).toBe(`${dep}@${expected}`);
      }
    }
    expect(packed.find((p) => p.name === '@toolmesh/proto')?.files).toEqual(
      expect.arrayContaining(['dist/gen/toolmesh/v1/tool_pb.js', 'dist/gen/toolmesh/v1/tool_pb.d.ts']),
    );
    // The service resolves the SDK in its own node_modules, as JavaScript.
    const resolved = createRequire(join(service, 'package.json')).resolve('@toolmesh/tool-sdk');
    expect(resolved).toBe(join(service, 'node_modules', '@toolmesh', 'tool-sdk', 'dist', 'index.js'));
  });
});

describe('the standalone service', () => {
  test('runs beside the mesh with its keys and serves a chat through the gateway', async () => {
    if (!mesh) throw new Error('the mesh did not start');
    const lines: string[] = [];
    const running = spawnService({
      name,
      onLine: (_service, line) => lines.push(line),
      entry: join(service, 'src', 'main.ts'),
      env: {
        ...env,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: 'off',
        LOG_LEVEL: 'info',
        // The mesh's public keys: the orchestrator signs every call with its key.
        TOOLMESH_MESH_JWKS_FILE: mesh.meshKeys.jwksFile,
      },
    });
    proc = running;
    const registry = createClient(RegistryService, gatewayTransport(mesh.grpcAddresses.gateway, operatorKey));
    const listed = async () =>
      (await registry.listRegisteredTools({})).tools.find((t) => t.definition?.name === toolName);
    await waitFor(
      async () => {
        if (running.exited.aborted) throw new Error(`${name} exited. Its last lines:\n${running.tail()}`);
        return (await listed().catch(() => undefined))?.available === true;
      },
      { what: `${toolName} in the registry`, timeoutMs: 60_000 },
    );
    expect((await listed())?.addresses).toEqual([`127.0.0.1:${port}`]);
    expect(lines.join('\n')).toContain(`${name} service listening`);

    const chat = createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, readerKey));
    const res = await chat.chat({
      message: JSON.stringify([{ name: toolName, arguments: { item_id: 'demo-1' } }]),
    });
    expect(res.toolExecutions).toEqual([expect.objectContaining({ toolName, success: true })]);
    expect(res.reply).toContain('First demo item');

    // A tool error of the service reaches the caller as one.
    const missing = await chat.chat({
      message: JSON.stringify([{ name: toolName, arguments: { item_id: 'nope' } }]),
    });
    expect(missing.toolExecutions).toEqual([
      expect.objectContaining({ toolName, success: false, errorCode: 'NOT_FOUND' }),
    ]);
  }, 120_000);

  test('passes its own test (node --test) and type-check against the declarations', async () => {
    const [tested, typechecked] = await Promise.all([ownTest, ownTypecheck]);
    if (!tested || !typechecked) throw new Error('the service was not installed');
    expect(tested.output).toMatch(/\bpass 6\n/);
    expect(tested.output).toMatch(/\bfail 0\n/);
    expect(tested.code).toBe(0);
    expect(typechecked.output).not.toMatch(/error TS/);
    expect(typechecked.code).toBe(0);
  }, 240_000);
});
