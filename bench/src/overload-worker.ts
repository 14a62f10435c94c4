// Child process: the overload load generator. One level per process, so its CPU is never
// taken from the processes measured and no load outlives its bound.
import type { OverloadMessage } from './overload-job.ts';
import { runOverloadLevel } from './run-overload-level.ts';

const send = (message: OverloadMessage) =>
  new Promise<void>((resolve) => process.send?.(message, undefined, {}, () => resolve()));

process.once('disconnect', () => process.exit(1));
process.once('message', (message: OverloadMessage) => {
  if (message.type !== 'job') return;
  runOverloadLevel(message.job).then(
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
