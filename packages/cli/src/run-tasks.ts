import { toJson } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import {
  type Task,
  TaskSchema,
  TaskService,
  TaskStatus,
  TaskStatusSchema,
  ToolErrorCodeSchema,
} from '@toolmesh/proto';
import { type CliContext, exitCode } from './cli-context.ts';
import { enumLabel } from './enum-label.ts';
import { formatClock } from './format-clock.ts';
import { printable, printableJson, printableLine } from './printable.ts';

const finished = new Set<TaskStatus>([TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED]);

function taskLine(task: Task): string {
  const when = task.updatedAt ? formatClock(timestampDate(task.updatedAt)) : '';
  return `${when} ${printableLine(task.taskId)} ${printableLine(task.toolName)} ${enumLabel(TaskStatusSchema, task.status)} ${task.progressPercent}%`.trim();
}

function taskOutcome(task: Task): string[] {
  const lines: string[] = [];
  if (task.resultJson) lines.push(`result: ${printable(task.resultJson)}`);
  if (task.error) {
    lines.push(
      `error: ${enumLabel(ToolErrorCodeSchema, task.error.code).toUpperCase()} ${printableLine(task.error.message)}`,
    );
  }
  return lines;
}

// A task that failed or was cancelled fails the command, so scripts can wait on it.
const taskExit = (task: Task | undefined) =>
  task && (task.status === TaskStatus.FAILED || task.status === TaskStatus.CANCELLED)
    ? exitCode.failed
    : exitCode.ok;

/** `toolmesh tasks get <task_id>`: one look at an async tool's task. */
export async function runTaskGet(ctx: CliContext, taskId: string): Promise<number> {
  const client = createClient(TaskService, ctx.transport);
  try {
    const { task } = await client.getTask({ taskId }, { timeoutMs: ctx.timeoutMs ?? 30_000 });
    if (!task) throw new Error('the gateway answered no task');
    if (ctx.json) ctx.stdout.write(`${printableJson(toJson(TaskSchema, task), 2)}\n`);
    else ctx.stdout.write(`${[taskLine(task), ...taskOutcome(task)].join('\n')}\n`);
    return taskExit(task);
  } catch (error) {
    return ctx.reportError(error, 'toolmesh.v1.TaskService/GetTask');
  }
}

/** `toolmesh tasks watch <task_id>`: one line per change until the task is done (Ctrl-C stops watching). */
export async function runTaskWatch(ctx: CliContext, taskId: string): Promise<number> {
  const client = createClient(TaskService, ctx.transport);
  const controller = new AbortController();
  const off = ctx.onInterrupt(() => controller.abort());
  let last: Task | undefined;
  try {
    const options = { signal: controller.signal, ...(ctx.timeoutMs ? { timeoutMs: ctx.timeoutMs } : {}) };
    for await (const { task } of client.watchTask({ taskId }, options)) {
      if (!task) continue;
      last = task;
      ctx.stdout.write(ctx.json ? `${printableJson(toJson(TaskSchema, task))}\n` : `${taskLine(task)}\n`);
      if (finished.has(task.status)) break;
    }
    if (!ctx.json && last) {
      const outcome = taskOutcome(last);
      if (outcome.length) ctx.stdout.write(`${outcome.join('\n')}\n`);
    }
    return taskExit(last);
  } catch (error) {
    if (controller.signal.aborted) return exitCode.interrupted;
    return ctx.reportError(error, 'toolmesh.v1.TaskService/WatchTask');
  } finally {
    off();
  }
}
