// Child process: the load generator. It gets one job over IPC, runs it and answers
// with the result, so the load's CPU is never taken from the processes measured.
import { createTarget } from './create-target.ts';
import { holdIdleStreams } from './hold-idle-streams.ts';
import type { LoadJob, LoopJobResult, ParentMessage, WorkerMessage } from './load-job.ts';
import { runClosedLoop } from './run-closed-loop.ts';
import { runConversation } from './run-conversation.ts';

const send = (message: WorkerMessage) =>
  new Promise<void>((resolve) => process.send?.(message, undefined, {}, () => resolve()));

async function run(job: LoadJob): Promise<unknown> {
  switch (job.type) {
    case 'loop': {
      const target = await createTarget(job.target);
      try {
        const result = await runClosedLoop(
          () => target.call(),
          job.loop,
          () => void send({ type: 'window' }),
        );
        return { ...result, counters: target.counters } satisfies LoopJobResult;
      } finally {
        await target.close();
      }
    }
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

process.once('disconnect', () => process.exit(1));
process.once('message', (message: ParentMessage) => {
  if (message.type !== 'job') return;
  run(message.job).then(
    async (result) => {
      await send({ type: 'result', result });
      process.exit(0);
    },
    async (error: unknown) => {
      await send({
        type: 'failed',
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
      process.exit(1);
    },
  );
});
