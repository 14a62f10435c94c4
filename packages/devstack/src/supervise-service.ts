import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import { defaultRestartPolicy, type RestartPolicy, restartDelay } from './restart-policy.ts';

/** How a process ended: an exit code, or the signal that killed it. */
export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

/** What supervision needs of a process; a real child ({@link ServiceProcess}) or a test's fake. */
export interface SupervisedProcess {
  readonly pid?: number | undefined;
  /** Settles once, when the process has exited. */
  readonly exit: Promise<ProcessExit>;
  /** Asks it to stop; resolves when it is gone. */
  stop(): Promise<void>;
}

/** What a supervisor saw and did, for the launcher to print. */
export type SupervisorEvent =
  | {
      type: 'exited';
      service: string;
      pid?: number | undefined;
      exit: ProcessExit;
      uptimeMs: number;
      /** The restart that follows: 1 for the first since the service last ran well. */
      restart: number;
      restartInMs: number;
    }
  | { type: 'restarted'; service: string; pid?: number | undefined; restart: number }
  | { type: 'up'; service: string; pid?: number | undefined; restart: number; downMs: number }
  | { type: 'not-ready'; service: string; pid?: number | undefined; error: string }
  | { type: 'gave-up'; service: string; exit: ProcessExit; crashes: number; windowMs: number };

/** Where a supervised service stands. */
export type SupervisionState = 'running' | 'restarting' | 'gave-up' | 'stopped';

/** Options of {@link superviseService}. */
export interface SuperviseServiceOptions<P extends SupervisedProcess> {
  name: string;
  /** The service's running process, already healthy. */
  process: P;
  /** Starts a new process of the service, on the same ports with the same environment. */
  start: () => P;
  /** Resolves once a new process serves; rejects when it exits first. Default: at once. */
  ready?: (process: P) => Promise<void>;
  policy?: Partial<RestartPolicy>;
  clock?: Clock;
  onEvent?: (event: SupervisorEvent) => void;
}

/** One supervised service. */
export interface Supervision<P extends SupervisedProcess> {
  readonly name: string;
  /** The latest process started. */
  current(): P;
  state(): SupervisionState;
  /** Replaces the process on purpose (not a crash, nothing counted): stops it, starts a new one, waits until ready. */
  restart(): Promise<void>;
  /** Ends supervision: no restart follows any exit. The process itself is left to the caller. */
  stop(): void;
}

/**
 * Restarts a service whenever its process exits without being asked to: after a backoff that
 * doubles with every crash in a row, and not at all after {@link RestartPolicy.maxCrashes}
 * quick crashes — a service that cannot stay up is reported, not restarted forever.
 */
export function superviseService<P extends SupervisedProcess>(
  options: SuperviseServiceOptions<P>,
): Supervision<P> {
  const policy = { ...defaultRestartPolicy, ...options.policy };
  const clock = options.clock ?? systemClock;
  const emit = (event: SupervisorEvent) => options.onEvent?.(event);
  const ready = options.ready ?? (() => Promise.resolve());
  const service = options.name;

  let proc = options.process;
  let startedAt = clock.now();
  let state: SupervisionState = 'running';
  let crashesInARow = 0;
  let crashTimes: number[] = [];
  let timer: ClockTimer | undefined;
  // Processes stopped on purpose, and processes known to be gone.
  const intended = new WeakSet<P>();
  const gone = new WeakSet<P>();

  const onExit = (p: P, exit: ProcessExit) => {
    gone.add(p);
    if (p !== proc || intended.has(p) || state === 'stopped' || state === 'gave-up') return;
    const now = clock.now();
    const uptimeMs = now - startedAt;
    crashesInARow = uptimeMs >= policy.resetAfterMs ? 1 : crashesInARow + 1;
    crashTimes = [...crashTimes.filter((t) => t > now - policy.crashWindowMs), now];
    if (crashTimes.length >= policy.maxCrashes) {
      state = 'gave-up';
      emit({ type: 'gave-up', service, exit, crashes: crashTimes.length, windowMs: policy.crashWindowMs });
      return;
    }
    const restartInMs = restartDelay(policy, crashesInARow);
    state = 'restarting';
    emit({ type: 'exited', service, pid: p.pid, exit, uptimeMs, restart: crashesInARow, restartInMs });
    timer = clock.setTimeout(() => {
      timer = undefined;
      void relaunch(now);
    }, restartInMs);
  };

  const launch = (): P => {
    const p = options.start();
    proc = p;
    startedAt = clock.now();
    state = 'running';
    p.exit.then((exit) => onExit(p, exit));
    return p;
  };

  // A function, not an inline test: `state` changes while a new process starts.
  const serving = (p: P) => p === proc && state === 'running';

  const relaunch = async (downSince: number) => {
    if (state !== 'restarting') return;
    const restart = crashesInARow;
    const p = launch();
    emit({ type: 'restarted', service, pid: p.pid, restart });
    try {
      await ready(p);
      if (serving(p)) emit({ type: 'up', service, pid: p.pid, restart, downMs: clock.now() - downSince });
    } catch (error) {
      // An exit is a crash and handled as one; a process that lives but does not serve is only reported.
      if (!gone.has(p) && serving(p))
        emit({
          type: 'not-ready',
          service,
          pid: p.pid,
          error: error instanceof Error ? error.message : String(error),
        });
    }
  };

  proc.exit.then((exit) => onExit(options.process, exit));

  return {
    name: service,
    current: () => proc,
    state: () => state,
    async restart() {
      if (state === 'stopped') throw new Error(`${service} is no longer supervised`);
      timer?.cancel();
      timer = undefined;
      intended.add(proc);
      await proc.stop();
      crashesInARow = 0;
      crashTimes = [];
      await ready(launch());
    },
    stop() {
      state = 'stopped';
      timer?.cancel();
      timer = undefined;
    },
  };
}
