import { create } from '@bufbuild/protobuf';
import { PrincipalSchema } from '@toolmesh/proto';
import type { Logger } from '@toolmesh/telemetry';
import { classifyError } from './classify-error.ts';
import { createTaskStore, type TaskStoreOptions } from './create-task-store.ts';
import { type AsyncTool, isAsyncTool, type TaskContext } from './define-async-tool.ts';
import type { Tool } from './define-tool.ts';
import type { TaskRecord } from './task-record.ts';

/** Options of {@link createTaskWorker}. */
export interface TaskWorkerOptions extends TaskStoreOptions {
  /** The service's tools; the worker runs the tasks of the async ones. */
  tools: Tool[];
  logger: Logger;
  /** Tasks run at once by this worker; default 2. */
  concurrency?: number;
  /** How often the table is polled for due tasks; default 200 ms. Local enqueues wake the worker at once. */
  pollIntervalMs?: number;
  /**
   * How long a claim holds without news from its worker; default 30 s. It is renewed
   * every third of it while the task runs, so only a dead worker lets it lapse, and
   * then another worker runs the task again.
   */
  leaseMs?: number;
  /** First retry delay, doubled on each further attempt; default 1 s. */
  retryBaseMs?: number;
  /** Largest retry delay; default 60 s. */
  retryMaxMs?: number;
}

/** A running pool of task executions. */
export interface TaskWorker {
  start(): void;
  /**
   * Stops claiming and waits up to graceMs (default 10 s) for running tasks. Tasks
   * still running then are aborted and abandoned without a write, like after a
   * crash: their lease lapses and another worker runs them again.
   */
  stop(graceMs?: number): Promise<void>;
}

interface Execution {
  done: Promise<void>;
  readonly controller: AbortController;
  heartbeat: ReturnType<typeof setInterval> | undefined;
  abandoned: boolean;
}

// How often expired last attempts are looked for: they are rare, polls are not.
const expireEveryMs = 1_000;

/**
 * Runs the tasks of async tools from the service's task table: claims due tasks
 * (SKIP LOCKED, so several workers and replicas share the queue), runs them as
 * their user, records progress and results, and retries retryable failures with
 * exponential backoff up to the tool's maxAttempts.
 */
export function createTaskWorker(options: TaskWorkerOptions): TaskWorker {
  const { logger } = options;
  const store = createTaskStore(options);
  const tools = new Map(options.tools.filter(isAsyncTool).map((t) => [t.name, t]));
  if (tools.size === 0) throw new Error('a task worker needs at least one async tool');
  const names = [...tools.keys()];
  const concurrency = options.concurrency ?? 2;
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const leaseMs = options.leaseMs ?? 30_000;
  const retryBaseMs = options.retryBaseMs ?? 1_000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const running = new Map<string, Execution>();
  let stopped = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let polling: Promise<void> | undefined;
  let pollAgain = false;
  let lastExpire = 0;
  let unsubscribe: (() => void) | undefined;

  // Equal jitter: replicas that failed together do not retry in lockstep.
  const backoff = (attempt: number) => {
    const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** (attempt - 1));
    return Math.round(delay / 2 + (Math.random() * delay) / 2);
  };

  function schedule(delayMs: number) {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(nudge, delayMs);
    timer.unref();
  }

  function nudge() {
    if (stopped) return;
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = poll().finally(() => {
      polling = undefined;
      schedule(pollAgain ? 0 : pollIntervalMs);
      pollAgain = false;
    });
  }

  async function poll() {
    try {
      if (Date.now() - lastExpire >= expireEveryMs) {
        lastExpire = Date.now();
        for (const r of await store.expire(names)) {
          logger.warn(
            { task_id: r.taskId, tool: r.toolName },
            'task failed: its lease lapsed on the last attempt',
          );
        }
      }
      while (!stopped && running.size < concurrency) {
        const record = await store.claim(names, leaseMs);
        if (!record) break;
        launch(record);
      }
    } catch (error) {
      logger.warn({ err: error }, 'task poll failed');
    }
  }

  function launch(record: TaskRecord) {
    const tool = tools.get(record.toolName);
    if (!tool) return; // cannot happen: claims name only our tools
    const controller = new AbortController();
    const execution: Execution = {
      controller,
      heartbeat: undefined,
      abandoned: false,
      done: Promise.resolve(),
    };
    const log = logger.child({
      tool: tool.name,
      task_id: record.taskId,
      attempt: record.attempts,
      user: record.userId,
    });
    // Renewing the lease is what tells other workers this one is alive; a renewal
    // that finds the task taken over (or cancelled) stops the attempt.
    execution.heartbeat = setInterval(
      () => {
        store.renew(record.taskId, record.attempts, leaseMs).then(
          (ours) => {
            if (!ours) controller.abort(new Error('the task lease was lost'));
          },
          (error: unknown) => log.warn({ err: error }, 'task lease renewal failed'),
        );
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    execution.heartbeat.unref();
    execution.done = attempt(tool, record, execution, log)
      .catch((error: unknown) => log.error({ err: error }, 'task bookkeeping failed'))
      .finally(() => {
        clearInterval(execution.heartbeat);
        running.delete(record.taskId);
        nudge();
      });
    running.set(record.taskId, execution);
  }

  async function attempt(tool: AsyncTool, record: TaskRecord, execution: Execution, log: Logger) {
    const { taskId, attempts } = record;
    const signal = AbortSignal.any([execution.controller.signal, AbortSignal.timeout(tool.runTimeoutMs)]);
    let args: unknown;
    try {
      const parsed = tool.input.safeParse(JSON.parse(record.argumentsJson));
      if (!parsed.success) throw new Error('stored arguments no longer match the schema');
      args = parsed.data;
    } catch (error) {
      log.error({ err: error }, 'task arguments invalid');
      await store.fail(taskId, attempts, {
        code: 'INVALID_ARGUMENT',
        message: 'the task arguments are no longer valid',
      });
      return;
    }
    const ctx: TaskContext = {
      principal: create(PrincipalSchema, {
        userId: record.userId,
        tenantId: record.tenantId,
        permissions: record.permissions,
      }),
      taskId,
      attempt: attempts,
      signal,
      logger: log,
      async reportProgress(percent) {
        signal.throwIfAborted();
        if (!Number.isFinite(percent)) throw new TypeError('progress must be a finite number');
        const clamped = Math.max(0, Math.min(100, Math.round(percent)));
        const updated = await store.progress(taskId, attempts, clamped, leaseMs);
        if (!updated) execution.controller.abort(new Error('the task lease was lost'));
        signal.throwIfAborted();
      },
    };
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    try {
      // The race ends the attempt on abort even if run ignores its signal.
      const work = tool.run(args, ctx);
      work.catch(() => {});
      const result = await Promise.race([work, aborted]);
      if (execution.abandoned) return;
      const saved = await store.succeed(taskId, attempts, JSON.stringify(result ?? null));
      if (!saved) log.warn('task result dropped: another worker took the task over');
      else log.debug('task succeeded');
    } catch (error) {
      // Abandoned at stop or taken over: the attempt is no longer ours to record.
      if (execution.abandoned || execution.controller.signal.aborted) {
        log.warn(
          { reason: String(execution.controller.signal.reason ?? 'stopped') },
          'task attempt given up',
        );
        return;
      }
      const c = classifyError(error, tool.name, tool.runTimeoutMs);
      if (c.unexpected) log.error({ err: error }, 'task attempt failed');
      else log.warn({ code: c.code }, 'task attempt failed');
      // Unexpected errors are retried too: a task has no caller that could retry it.
      const retry = c.retryable || c.unexpected;
      await store.fail(taskId, attempts, {
        code: c.code,
        message: c.message,
        retryAfterMs: retry ? backoff(attempts) : undefined,
      });
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      unsubscribe = store.events.onEnqueued(nudge);
      nudge();
    },
    async stop(graceMs = 10_000) {
      stopped = true;
      clearTimeout(timer);
      unsubscribe?.();
      // A claim in flight still launches its task; it is then waited for like the others.
      await polling;
      const all = Promise.allSettled([...running.values()].map((e) => e.done));
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<'late'>((resolve) => {
        graceTimer = setTimeout(() => resolve('late'), graceMs);
      });
      const outcome = await Promise.race([all, grace]);
      clearTimeout(graceTimer);
      if (outcome !== 'late') return;
      for (const e of running.values()) {
        e.abandoned = true;
        clearInterval(e.heartbeat);
        e.controller.abort(new Error('the task worker stopped'));
      }
      await Promise.allSettled([...running.values()].map((e) => e.done));
    },
  };
}
