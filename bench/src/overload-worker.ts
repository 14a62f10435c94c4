// Child process: the overload load generator. One level per process, so its CPU is never
// taken from the processes measured and no load outlives its bound.
import type { OverloadJob } from './overload-job.ts';
import { runOverloadLevel } from './run-overload-level.ts';
import { sendToParent, serveOneJob } from './serve-one-job.ts';

serveOneJob<OverloadJob>((job) =>
  runOverloadLevel(job, { onWindowOpen: () => void sendToParent({ type: 'window' }) }),
);
