import type { ToolExecution } from '@toolmesh/proto';
import { durationMs, formatDuration } from './format-duration.ts';
import type { LiveOutput } from './live-output.ts';
import { printableLine } from './printable.ts';

/**
 * Arguments JSON on one line, safe to print, cut to `max` characters so a call fits a
 * terminal line.
 */
export function compactJson(json: string, max = 72): string {
  let text = json;
  try {
    text = JSON.stringify(JSON.parse(json));
  } catch {
    // Shown as it came: the server masks sensitive fields, the text is informative as is.
  }
  // Cut after cleaning, so what is cut is what shows.
  text = printableLine(text);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * One finished tool call, every server-sent field made printable: "✓ get_order_detail {…} · 14 ms · cached" or
 * "✗ get_dispatch_plan · 3.0 s · failed: TIMEOUT the tool timed out"; a call retried on
 * another replica says "retried ×1".
 */
export function renderToolExecution(
  execution: ToolExecution,
  out: Pick<LiveOutput, 'style'>,
  argumentsJson?: string,
): string {
  const mark = execution.success ? out.style('green', '✓') : out.style('red', '✗');
  const parts = [`${mark} ${out.style('bold', printableLine(execution.toolName))}`];
  if (argumentsJson && argumentsJson !== '{}') parts[0] += ` ${out.style('dim', compactJson(argumentsJson))}`;
  parts.push(formatDuration(durationMs(execution.duration)));
  if (execution.cached) parts.push(out.style('cyan', 'cached'));
  if (execution.attempts > 1) parts.push(out.style('yellow', `retried ×${execution.attempts - 1}`));
  if (!execution.success) {
    const code = printableLine(execution.errorCode) || 'FAILED';
    const message = printableLine(execution.errorMessage);
    parts.push(out.style('red', `failed: ${code}${message ? ` ${message}` : ''}`));
  }
  return parts.join(out.style('dim', ' · '));
}
