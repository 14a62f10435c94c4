import { readFileSync } from 'node:fs';

// The parts of V8's .cpuprofile format read here.
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function or one package, in milliseconds and as a share of all samples. */
export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

/** Where a process spent its CPU within a window. */
export interface ProfileSummary {
  /** Sampled milliseconds in the window (idle excluded). */
  busyMs: number;
  /**
   * Of which in socket write syscalls (writev, writeBuffer). Under load this is mostly
   * the kernel handing bytes to the peer and the process being preempted by it: it
   * follows the number of round trips (SQL above all), not JavaScript work.
   */
  socketWriteMs: number;
  functions: SelfTime[];
  /**
   * By package, Node internals and native code counted to the nearest package on
   * the stack (undici's fetch apart), socket writes apart: "pg (socket writes)".
   */
  packages: SelfTime[];
  /** This repository's functions (packages/, services/) by inclusive time: what our code sets in motion. */
  ownCode: SelfTime[];
}

const root = new URL('../../', import.meta.url).pathname;

// Which package a script belongs to: an npm package or a workspace of this repo;
// undefined for Node itself and native code.
function packageOf(url: string): string | undefined {
  const path = url.replace(/^file:\/\//, '');
  // Node bundles undici (fetch): the model client's HTTP, worth telling apart.
  if (path.startsWith('node:internal/deps/undici')) return 'undici (fetch)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (modules?.[1]) return modules[1];
  const local = path.startsWith(root) ? path.slice(root.length) : undefined;
  const workspace = local && /^(packages|services|bench)\/([^/]+)/.exec(local);
  if (workspace) return workspace[1] === 'bench' ? 'bench' : `${workspace[1]}/${workspace[2]}`;
  return undefined;
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('node_modules/');
  if (modules >= 0) return path.slice(modules + 'node_modules/'.length);
  return path.startsWith(root) ? path.slice(root.length) : path;
}

/**
 * Self time per function and per package from a V8 CPU profile, counting only
 * samples between `fromUs` and `toUs` (the monotonic clock, as process.hrtime).
 */
export function summarizeCpuProfile(
  file: string,
  fromUs = 0,
  toUs = Number.POSITIVE_INFINITY,
  top = 15,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const own = new Map<string, number>();
  // Inclusive time of each of our functions on the sampled stack (once per sample, recursion aside).
  const addOwn = (id: number, delta: number) => {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame?.url.includes(root) || !/\/(packages|services)\//.test(frame.url)) continue;
      const name = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
      if (seen.has(name)) continue;
      seen.add(name);
      own.set(name, (own.get(name) ?? 0) + delta);
    }
  };
  // The nearest package on the stack; the V8 pseudo-frames stay themselves.
  const packageOnStack = (id: number): string => {
    const leaf = byId.get(id)?.callFrame.functionName ?? '';
    if (leaf.startsWith('(')) return leaf;
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const pkg = packageOf(byId.get(at)?.callFrame.url ?? '');
      if (pkg) return pkg;
    }
    return 'node (built-in)';
  };
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  let busyUs = 0;
  let writeUs = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromUs || at > toUs) return;
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') return;
    busyUs += delta;
    if (!url && (functionName === 'writev' || functionName === 'writeBuffer')) writeUs += delta;
    const name = url ? `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}` : functionName;
    functions.set(name, (functions.get(name) ?? 0) + delta);
    const pkg = packageOnStack(id);
    const write = !url && (functionName === 'writev' || functionName === 'writeBuffer');
    const key = write ? `${pkg} (socket writes)` : pkg;
    packages.set(key, (packages.get(key) ?? 0) + delta);
    addOwn(id, delta);
  });
  const rank = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busyUs ? us / busyUs : 0 }));
  return {
    busyMs: busyUs / 1000,
    socketWriteMs: writeUs / 1000,
    functions: rank(functions),
    packages: rank(packages),
    ownCode: rank(own),
  };
}
