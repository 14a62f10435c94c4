import type { ScaffoldResult } from './scaffold-tool-service.ts';

/** The report `toolmesh new-tool-service` prints: what was created and the steps left. */
export function formatScaffoldResult(result: ScaffoldResult): string {
  const lines = [
    `Created ${result.packageName} in ${result.folder} (tool ${result.toolName}, ` +
      `gRPC port ${result.port}, metrics port ${result.metricsPort}):`,
    ...result.files.map((file) => `  ${file}`),
    '',
    'Next steps:',
    ...result.nextSteps.map((step, i) => `  ${i + 1}. ${step}`),
  ];
  return `${lines.join('\n')}\n`;
}
