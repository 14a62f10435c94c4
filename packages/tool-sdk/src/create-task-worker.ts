import { create } from '@bufbuild/protobuf';
import { type ClockTimer, systemClock } from '@toolmesh/clock';
import { PrincipalSchema } from '@toolmesh/proto';
import type { Logger } from '@toolmesh/telemetry';
import { classifyError } from './classify-error.ts';
import { createTaskStore, type TaskStoreOptions } from './create-task-store.ts';
import { type AsyncTool, isAsyncTool, type TaskContext } from './define-async-tool.ts';
import type { Tool } from './define-tool.ts';
import type { TaskRecord } from './task-record.ts';
import { timeoutSignal } from './timeout-signal.ts';

/** Options of {@link createTaskWorker}. */
export interface TaskWorkerOptions extends TaskStoreOptions {
  /** The service's tools; the worker runs the tasks of the async ones. */
  tools: Tool[];
  logger: Logger;
  /** Tasks run at once by this worker; default 2. */
  concurrency?: number;
  /**
   * How often the table is polled for due tasks; default 200 ms. Local enqueues wake the
   * worker at once. Polls, lease renewals, retry delays and run timeouts follow the
   * `clock` option (default the system clock).
   */
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
  heartbeat: ClockTimer | undefined;
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
  const clock = options.clock ?? systemClock;
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
  let timer: ClockTimer | undefined;
  let polling: Promise<void> | undefined;
  let pollAgain = false;
  let lastExpire = Number.NEGATIVE_INFINITY;
  let unsubscribe: (() => void) | undefined;

  // Equal jitter: replicas that failed together do not retry in lockstep.
  const backoff = (attempt: number) => {
    const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** (attempt - 1));
    return Math.round(delay / 2 + (Math.random() * delay) / 2);
  };

  function schedule(delayMs: number) {
    if (stopped) return;
    timer?.cancel();
    timer = clock.setTimeout(nudge, delayMs).unref();
  }

  function nudge() {
    if (stopped) return;
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = poll().finally(() => {
      polling = undefined;
      if (!pollAgain) return schedule(pollIntervalMs);
      // Woken while polling (an enqueue this poll may have missed): look again now. Not
      // through a timer: on an injected clock a timer runs only when the clock moves on.
      pollAgain = false;
      nudge();
    });
  }

  async function poll() {
    try {
      if (clock.now() - lastExpire >= expireEveryMs) {
        lastExpire = clock.now();
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
    execution.heartbeat = clock
      .setInterval(
        () => {
          store.renew(record.taskId, record.attempts, leaseMs).then(
            (ours) => {
              if (!ours) controller.abort(new Error('the task lease was lost'));
            },
            (error: unknown) => log.warn({ err: error }, 'task lease renewal failed'),
          );
        },
        Math.max(50, Math.floor(leaseMs / 3)),
      )
      .unref();
    execution.done = attempt(tool, record, execution, log)
      .catch((error: unknown) => log.error({ err: error }, 'task bookkeeping failed'))
      .finally(() => {
        execution.heartbeat?.cancel();
        running.delete(record.taskId);
        nudge();
      });
    running.set(record.taskId, execution);
  }

  // The run timeout is on the clock too: a manual clock decides when an attempt times out.
  async function attempt(tool: AsyncTool, record: TaskRecord, execution: Execution, log: Logger) {
    const timeout = timeoutSignal(clock, tool.runTimeoutMs, execution.controller.signal);
    try {
      await runAttempt(tool, record, execution, log, timeout.signal);
    } finally {
      timeout.cancel();
    }
  }

  async function runAttempt(
    tool: AsyncTool,
    record: TaskRecord,
    execution: Execution,
    log: Logger,
    signal: AbortSignal,
  ) {
    const { taskId, attempts } = record;
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
      timer?.cancel();
      unsubscribe?.();
      // A claim in flight still launches its task; it is then waited for like the others.
      await polling;
      if (running.size === 0) return;
      const all = Promise.allSettled([...running.values()].map((e) => e.done));
      let graceTimer: ClockTimer | undefined;
      // No grace at all abandons at once, without a timer a manual clock would have to fire.
      const grace =
        graceMs > 0
          ? new Promise<'late'>((resolve) => {
              graceTimer = clock.setTimeout(() => resolve('late'), graceMs);
            })
          : ('late' as const);
      const outcome = await Promise.race([all, grace]);
      graceTimer?.cancel();
      if (outcome !== 'late') return;
      for (const e of running.values()) {
        e.abandoned = true;
        e.heartbeat?.cancel();
        e.controller.abort(new Error('the task worker stopped'));
      }
      await Promise.allSettled([...running.values()].map((e) => e.done));
    },
  };
}
