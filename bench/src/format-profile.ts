import type { BenchReport } from './bench-report.ts';
import { formatTable, num, pct } from './format-table.ts';
import type { ProfileSummary } from './summarize-cpu-profile.ts';

function profileTables(summary: ProfileSummary): string {
  const share = (ms: number) => pct(ms / (summary.busyMs || 1));
  return [
    `busy ${num(summary.busyMs)} ms sampled in the window (wall time on CPU or preempted), ` +
      `${share(summary.socketWriteMs)} of it in socket writes (writev/writeBuffer).`,
    '',
    'By package, counting Node internals to the package that called them (socket writes apart):',
    '',
    formatTable(
      ['share', 'ms', 'package'],
      summary.packages.slice(0, 10).map((p) => [pct(p.share), num(p.ms), p.name]),
    ),
    '',
    'Top functions by self time:',
    '',
    formatTable(
      ['self %', 'self ms', 'function'],
      summary.functions.slice(0, 10).map((f) => [pct(f.share), num(f.ms), `\`${f.name}\``]),
    ),
    '',
    "This repository's functions by inclusive time (their own work and everything they call):",
    '',
    formatTable(
      ['incl %', 'incl ms', 'function'],
      summary.ownCode.slice(0, 8).map((f) => [pct(f.share), num(f.ms), `\`${f.name}\``]),
    ),
  ].join('\n');
}

/** Section 4: where each profiled service spent the measured window. */
export function formatProfile(report: BenchReport): string {
  const profile = report.profile;
  if (!profile) return '';
  return [
    `## 4. CPU profile under the c${profile.load.concurrency} end-to-end load ` +
      `(${num(profile.load.perSecond)} chats/s while profiling)`,
    '',
    `Raw profiles: \`${profile.directory}\` (open in Chrome DevTools → Performance).`,
    '',
    ...Object.entries(profile.byService).flatMap(([name, summary]) => [
      `### ${name}`,
      '',
      profileTables(summary),
      '',
    ]),
  ].join('\n');
}
