// Child process: the load generator. It gets one job over IPC, runs it and answers
// with the result, so the load's CPU is never taken from the processes measured.
import { createTarget } from './create-target.ts';
import { holdIdleStreams } from './hold-idle-streams.ts';
import type { LoadJob, LoopJobResult, ParentMessage, WorkerMessage } from './load-job.ts';
import { runClosedLoop } from './run-closed-loop.ts';
import { runConversation } from './run-conversation.ts';
import { runInterleaved } from './run-interleaved.ts';
import { sendToParent, serveOneJob } from './serve-one-job.ts';

const send = (message: WorkerMessage) => sendToParent(message);

async function run(job: LoadJob): Promise<unknown> {
  switch (job.type) {
    case 'loop': {
      const target = await createTarget(job.target);
      try {
        let from = process.cpuUsage();
        const result = await runClosedLoop(
          () => target.call(),
          job.loop,
          () => {
            from = process.cpuUsage();
            void send({ type: 'window' });
          },
        );
        const used = process.cpuUsage(from);
        const cpuMs = (used.user + used.system) / 1000;
        return { ...result, counters: target.counters, cpuMs } satisfies LoopJobResult;
      } finally {
        await target.close();
      }
    }
    case 'interleaved':
      return runInterleaved(
        job,
        job.announceSlices ? (path, phase) => send({ type: 'slice', path, phase }) : undefined,
      );
    case 'conversation':
      return runConversation(job);
    case 'idle-streams': {
      const held = await holdIdleStreams(job, (sent) => void send({ type: 'progress', sent }));
      await new Promise<void>((resolve) => {
        process.on('message', (message: ParentMessage) => {
          if (message.type === 'release') resolve();
        });
      });
      return held.release();
    }
  }
}

serveOneJob<LoadJob>(run);
