// Validates rendered Kubernetes manifests (the output of `kubectl kustomize`) offline, with no
// cluster: every object against the Kubernetes OpenAPI schema (kubernetes-models; the
// ServiceMonitor against the prometheus-operator CRD schema), then strictly (unknown fields fail,
// as kubeconform -strict: each object type-checked by tsc against the same models' types), then
// toolmesh's own rules (hardening, probes, references between objects, who may reach whom).
//
//   node scripts/validate-k8s.ts [--external-secret NAME]... [--require-hpa] RENDERED.yaml...
//
// --external-secret: a Secret referenced but created outside the manifests (prod's
// toolmesh-secrets). --require-hpa: every Deployment must have a HorizontalPodAutoscaler.
// Exits 1 on any problem, naming the file, the object and the reason.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

type Obj = Record<string, unknown>;

interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string | undefined;
  body: Obj;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Packages whose models carry the schemas: Kubernetes itself, then the Prometheus Operator CRDs. */
const modelPackages = ['kubernetes-models', '@kubernetes-models/prometheus-operator'];
const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
/** Who may open gRPC connections to whom (the design: gateway → orchestrator → tool services). */
const grpcClients: Record<string, string[]> = {
  orchestrator: ['gateway'],
  order: ['orchestrator', 'ticket'],
  inventory: ['orchestrator'],
  dispatch: ['orchestrator'],
  ticket: ['orchestrator'],
  'scripted-model': ['orchestrator'],
  'mcp-bridge': ['orchestrator'],
};

const root = new URL('..', import.meta.url).pathname;
const problems: string[] = [];
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const id = (m: Manifest) => `${basename(m.file)}: ${m.kind}/${m.name}`;
const labelsMatch = (selector: unknown, labels: unknown) =>
  Object.entries(obj(selector)).every(([k, v]) => obj(labels)[k] === v);

function parseArgs(argv: string[]) {
  const externalSecrets = new Set<string>();
  const files: string[] = [];
  let requireHpa = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--external-secret') externalSecrets.add(argv[++i] ?? '');
    else if (arg === '--require-hpa') requireHpa = true;
    else files.push(arg);
  }
  if (files.length === 0) {
    console.error('usage: node scripts/validate-k8s.ts [--external-secret NAME]... [--require-hpa] FILE...');
    process.exit(2);
  }
  return { externalSecrets, files, requireHpa };
}

function load(file: string): Manifest[] {
  const manifests: Manifest[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if (doc.errors.length > 0) {
      problems.push(`${basename(file)}: YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      continue;
    }
    const body = doc.toJS() as unknown;
    if (body === null || body === undefined) continue;
    const meta = obj(obj(body).metadata);
    const m: Manifest = {
      file,
      apiVersion: str(obj(body).apiVersion) ?? '',
      kind: str(obj(body).kind) ?? '',
      name: str(meta.name) ?? '',
      namespace: str(meta.namespace),
      body: obj(body),
    };
    if (!m.apiVersion || !m.kind || !m.name)
      problems.push(`${id(m)}: apiVersion, kind and metadata.name are required`);
    else manifests.push(m);
  }
  if (manifests.length === 0) problems.push(`${basename(file)}: no objects`);
  return manifests;
}

/** The model module of an apiVersion/kind: kubernetes-models/apps/v1/Deployment, …/v1/Service. */
async function findModel(m: Manifest): Promise<{ specifier: string; Model: ModelClass } | undefined> {
  for (const pkg of modelPackages) {
    const specifier = `${pkg}/${m.apiVersion}/${m.kind}`;
    try {
      const mod = (await import(specifier)) as Record<string, unknown>;
      const Model = mod[m.kind];
      if (typeof Model === 'function') return { specifier, Model: Model as ModelClass };
    } catch {
      // Not in this package: try the next one.
    }
  }
  return undefined;
}

/** Schema validation; returns what the strict pass needs: each object's type and module. */
async function validateSchemas(manifests: Manifest[]) {
  const typed: { m: Manifest; specifier: string }[] = [];
  for (const m of manifests) {
    const found = await findModel(m);
    if (!found) {
      problems.push(`${id(m)}: no schema for ${m.apiVersion} ${m.kind}`);
      continue;
    }
    typed.push({ m, specifier: found.specifier });
    try {
      new found.Model(m.body).validate();
    } catch (error) {
      problems.push(`${id(m)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return typed;
}

/**
 * The OpenAPI schemas allow unknown fields, so a typo (readOnlyRootFileSystem) would pass and be
 * silently dropped by the API server. Assigning each object, as a literal, to its model's type
 * makes tsc's excess-property check report every field the schema does not know.
 */
function checkUnknownFields(typed: { m: Manifest; specifier: string }[]) {
  if (typed.length === 0) return;
  const dir = join(root, 'node_modules/.cache/validate-k8s');
  mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  const owners: { from: number; to: number; m: Manifest }[] = [];
  typed.forEach(({ m, specifier }, i) => {
    lines.push(`import type { I${m.kind} as T${i} } from '${specifier}';`);
  });
  let lineCount = lines.length;
  typed.forEach(({ m }, i) => {
    const text = `export const o${i}: T${i} = ${JSON.stringify(m.body, null, 2)};`;
    const from = lineCount + 1;
    lineCount += text.split('\n').length;
    lines.push(text);
    owners.push({ from, to: lineCount, m });
  });
  const source = `${lines.join('\n')}\n`;
  const sourceLines = source.split('\n');
  writeFileSync(join(dir, 'objects.ts'), source);
  const compilerOptions = {
    target: 'es2024',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['objects.ts'] }));
  let output = '';
  try {
    execFileSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.', '--pretty', 'false'],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
  } catch (error) {
    output = String((error as { stdout?: unknown }).stdout ?? error);
  }
  for (const line of output.split('\n').filter((l) => l.includes('error TS'))) {
    // Every error counts, mapped to its object when it is in one.
    const match = /^objects\.ts\((\d+),\d+\): error TS\d+: (.*)$/.exec(line.trim());
    const owner = match && owners.find((o) => Number(match[1]) >= o.from && Number(match[1]) <= o.to);
    const at = match ? sourceLines[Number(match[1]) - 1]?.trim() : undefined;
    problems.push(
      owner && match ? `${id(owner.m)}: strict: ${match[2]} (at ${at})` : `strict: ${line.trim()}`,
    );
  }
  if (output && !output.includes('error TS')) problems.push(`tsc failed: ${output.slice(0, 500)}`);
}

function podSpec(d: Manifest): Obj {
  return obj(obj(obj(d.body.spec).template).spec);
}
function podLabels(d: Manifest): Obj {
  return obj(obj(obj(obj(d.body.spec).template).metadata).labels);
}
function containers(d: Manifest): Obj[] {
  return arr(podSpec(d).containers).map(obj);
}
function containerPorts(d: Manifest): Obj[] {
  return containers(d).flatMap((c) => arr(c.ports).map(obj));
}
function hasPort(d: Manifest, port: unknown) {
  return containerPorts(d).some((p) => p.name === port || p.containerPort === port);
}

/** Hardening, probes and resources of every Deployment's pods. */
function checkDeployment(d: Manifest, all: Manifest[], externalSecrets: Set<string>) {
  const spec = podSpec(d);
  const psc = obj(spec.securityContext);
  const say = (what: string) => problems.push(`${id(d)}: ${what}`);
  if (psc.runAsNonRoot !== true) say('pod securityContext.runAsNonRoot must be true');
  if (typeof psc.runAsUser !== 'number' || psc.runAsUser === 0)
    say('pod securityContext.runAsUser must be a non-zero UID');
  if (obj(psc.seccompProfile).type !== 'RuntimeDefault') say('pod seccompProfile must be RuntimeDefault');
  if (spec.automountServiceAccountToken !== false) say('automountServiceAccountToken must be false');
  const sa = str(spec.serviceAccountName);
  if (!sa || !all.some((m) => m.kind === 'ServiceAccount' && m.name === sa))
    say(`ServiceAccount ${sa} is missing`);
  if (!labelsMatch(obj(obj(d.body.spec).selector).matchLabels, podLabels(d)))
    say('selector does not match the pod labels');
  const mountsTmp = (c: Obj) => arr(c.volumeMounts).some((v) => obj(v).mountPath === '/tmp');
  for (const c of containers(d)) {
    const image = str(c.image) ?? '';
    const tag = image.slice(image.lastIndexOf('/') + 1).split(':')[1];
    if (!tag || tag === 'latest') say(`image ${image} needs a fixed tag`);
    const res = obj(c.resources);
    for (const kind of ['requests', 'limits'])
      for (const r of ['cpu', 'memory'])
        if (obj(res[kind])[r] === undefined) say(`resources.${kind}.${r} missing`);
    const csc = obj(c.securityContext);
    if (csc.allowPrivilegeEscalation !== false) say('allowPrivilegeEscalation must be false');
    if (csc.readOnlyRootFilesystem !== true) say('readOnlyRootFilesystem must be true');
    else if (!mountsTmp(c)) say('a read-only root filesystem needs a writable /tmp (emptyDir)');
    if (!arr(obj(csc.capabilities).drop).includes('ALL')) say('capabilities must drop ALL');
    const grpcPort = arr(c.ports)
      .map(obj)
      .find((p) => p.name === 'grpc')?.containerPort;
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      const p = obj(c[probe]);
      if (Object.keys(p).length === 0) say(`${probe} missing`);
      else if (grpcPort !== undefined && obj(p.grpc).port !== grpcPort)
        say(`${probe} must be a grpc probe on the gRPC port ${String(grpcPort)}`);
      const target = obj(p.grpc).port ?? obj(p.httpGet).port ?? obj(p.tcpSocket).port;
      if (target !== undefined && !hasPort(d, target))
        say(`${probe} targets ${String(target)}, not a container port`);
    }
    for (const from of arr(c.envFrom).map(obj)) {
      const cm = str(obj(from.configMapRef).name);
      if (cm && !all.some((m) => m.kind === 'ConfigMap' && m.name === cm)) say(`ConfigMap ${cm} is missing`);
    }
    for (const e of arr(c.env).map(obj)) {
      const ref = obj(obj(e.valueFrom).secretKeyRef);
      const name = str(ref.name);
      if (!name) continue;
      const secret = all.find((m) => m.kind === 'Secret' && m.name === name);
      if (!secret && !externalSecrets.has(name))
        say(`Secret ${name} is missing (or pass --external-secret ${name})`);
      const keys = { ...obj(secret?.body.data), ...obj(secret?.body.stringData) };
      if (secret && !(String(ref.key) in keys)) say(`Secret ${name} has no key ${String(ref.key)}`);
    }
  }
}

/** References between objects and the network rules of the design. */
function checkRelations(all: Manifest[], requireHpa: boolean) {
  const deployments = all.filter((m) => m.kind === 'Deployment');
  const podsOf = (selector: unknown) => deployments.filter((d) => labelsMatch(selector, podLabels(d)));
  const namespaces = new Set(all.filter((m) => m.kind === 'Namespace').map((m) => m.name));
  const seen = new Set<string>();
  for (const m of all) {
    const key = `${m.kind}/${m.namespace ?? ''}/${m.name}`;
    if (seen.has(key)) problems.push(`${id(m)}: defined twice`);
    seen.add(key);
    if (clusterScoped.has(m.kind)) continue;
    if (!m.namespace) problems.push(`${id(m)}: no namespace`);
    else if (!namespaces.has(m.namespace)) problems.push(`${id(m)}: namespace ${m.namespace} is not defined`);
  }
  for (const d of deployments) {
    const labels = podLabels(d);
    const component = labels['app.kubernetes.io/component'];
    const name = str(labels['app.kubernetes.io/name']) ?? d.name;
    const services = all.filter(
      (m) => m.kind === 'Service' && labelsMatch(obj(m.body.spec).selector, labels),
    );
    if (services.length === 0) problems.push(`${id(d)}: no Service selects its pods`);
    for (const s of services) {
      if (component === 'tool-service' && obj(s.body.spec).clusterIP !== 'None')
        problems.push(`${id(s)}: a tool service must be headless (clusterIP: None) for DNS discovery`);
      for (const p of arr(obj(s.body.spec).ports).map(obj))
        if (!hasPort(d, p.targetPort ?? p.port))
          problems.push(`${id(s)}: targetPort ${String(p.targetPort)} not on ${d.name}`);
    }
    const pdb = all.some(
      (m) =>
        m.kind === 'PodDisruptionBudget' && podsOf(obj(obj(m.body.spec).selector).matchLabels).includes(d),
    );
    if (!pdb) problems.push(`${id(d)}: no PodDisruptionBudget`);
    const hpa = all.some(
      (m) => m.kind === 'HorizontalPodAutoscaler' && obj(obj(m.body.spec).scaleTargetRef).name === d.name,
    );
    if (requireHpa && !hpa) problems.push(`${id(d)}: no HorizontalPodAutoscaler`);
    const policies = all.filter(
      (m) =>
        m.kind === 'NetworkPolicy' &&
        Object.keys(obj(obj(obj(m.body.spec).podSelector).matchLabels)).length > 0,
    );
    const own = policies.filter((m) => podsOf(obj(obj(m.body.spec).podSelector).matchLabels).includes(d));
    if (own.length === 0) problems.push(`${id(d)}: no NetworkPolicy selects its pods`);
    const allowed = grpcClients[name];
    for (const np of own) {
      for (const rule of arr(obj(np.body.spec).ingress).map(obj)) {
        const ports = arr(rule.ports).map((p) => obj(p).port);
        for (const port of ports)
          if (!hasPort(d, port)) problems.push(`${id(np)}: port ${String(port)} not on ${d.name}`);
        // Any port but the metrics one is the service's API.
        const metricsPort = containerPorts(d).find((p) => p.name === 'metrics')?.containerPort;
        const servesApi = ports.length === 0 || ports.some((p) => p !== 'metrics' && p !== metricsPort);
        if (!allowed || !servesApi) continue;
        const peers = arr(rule.from).map(obj);
        const ok =
          peers.length > 0 &&
          peers.every(
            (peer) =>
              !peer.namespaceSelector &&
              !peer.ipBlock &&
              allowed.includes(String(obj(obj(peer.podSelector).matchLabels)['app.kubernetes.io/name'])),
          );
        if (!ok)
          problems.push(`${id(np)}: ${name}'s API may be reached only from ${allowed.join(', ')} pods`);
      }
    }
  }
  for (const m of all) {
    const spec = obj(m.body.spec);
    if (m.kind === 'HorizontalPodAutoscaler') {
      const target = str(obj(spec.scaleTargetRef).name);
      if (!deployments.some((d) => d.name === target))
        problems.push(`${id(m)}: scales missing Deployment ${target}`);
      if (Number(spec.minReplicas ?? 1) > Number(spec.maxReplicas))
        problems.push(`${id(m)}: minReplicas > maxReplicas`);
    }
    if (m.kind === 'ServiceMonitor') {
      const matched = all.filter(
        (s) =>
          s.kind === 'Service' &&
          labelsMatch(obj(spec.selector).matchLabels, obj(obj(s.body.metadata).labels)),
      );
      if (matched.length === 0) problems.push(`${id(m)}: selects no Service`);
      for (const ep of arr(spec.endpoints).map(obj))
        for (const s of matched)
          if (!arr(obj(s.body.spec).ports).some((p) => obj(p).name === ep.port))
            problems.push(`${id(m)}: Service ${s.name} has no port named ${String(ep.port)}`);
    }
    if (m.kind === 'NetworkPolicy' && Object.keys(obj(obj(spec.podSelector).matchLabels)).length === 0) {
      // A policy for every pod may only deny: allowing here would bypass the per-service rules.
      if (arr(spec.ingress).length > 0)
        problems.push(`${id(m)}: a namespace-wide policy must not allow ingress`);
    }
    if (m.kind === 'NetworkPolicy' && arr(spec.policyTypes).includes('Egress')) {
      // Egress limited: without DNS the pod resolves no name (Services, the collector, MCP servers).
      const dns = arr(spec.egress)
        .map(obj)
        .some((rule) =>
          arr(rule.ports).some((p) => obj(p).port === 53 && (obj(p).protocol ?? 'TCP') === 'UDP'),
        );
      if (!dns) problems.push(`${id(m)}: limits egress but allows no DNS (port 53/UDP)`);
      if (Object.keys(obj(obj(spec.podSelector).matchLabels)).length === 0 && arr(spec.egress).length > 0)
        problems.push(`${id(m)}: a namespace-wide policy must not allow egress`);
    }
    if (m.kind === 'NetworkPolicy')
      for (const rule of arr(spec.ingress).map(obj))
        for (const peer of arr(rule.from).map(obj)) {
          const sel = obj(obj(peer.podSelector).matchLabels);
          if (!peer.namespaceSelector && Object.keys(sel).length > 0 && podsOf(sel).length === 0)
            problems.push(`${id(m)}: no pods match ${JSON.stringify(sel)}`);
        }
  }
}

const { externalSecrets, files, requireHpa } = parseArgs(process.argv.slice(2));
for (const file of files) {
  const before = problems.length;
  const manifests = load(file);
  const typed = await validateSchemas(manifests);
  checkUnknownFields(typed);
  for (const d of manifests.filter((m) => m.kind === 'Deployment'))
    checkDeployment(d, manifests, externalSecrets);
  checkRelations(manifests, requireHpa);
  const kinds = new Map<string, number>();
  for (const m of manifests) kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
  const summary = [...kinds].map(([k, n]) => `${n} ${k}`).join(', ');
  const found = problems.length - before;
  console.log(
    `${basename(file)}: ${manifests.length} objects (${summary}): ${found === 0 ? 'valid' : `${found} problem(s)`}`,
  );
  for (const p of problems.slice(before)) console.log(`  ✗ ${p}`);
}
process.exit(problems.length === 0 ? 0 : 1);
