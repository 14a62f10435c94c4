import { setTimeout as sleep } from 'node:timers/promises';
import { ChatService } from '@toolmesh/proto';
import { createGrpcClient } from '@toolmesh/rpc';
import type { IdleStreamsJob, IdleStreamsJobResult } from './load-job.ts';

/** Streams being held open; `release` cancels them all and reports how many ended on their own. */
export interface HeldStreams {
  release(): Promise<IdleStreamsJobResult>;
}

/**
 * Opens `streams` ChatStreams spread over connections of `perConnection` streams
 * each (many clients, as in production) and keeps them open. `onProgress` gets
 * the number sent so far.
 */
export async function holdIdleStreams(
  job: IdleStreamsJob,
  onProgress: (sent: number) => void,
): Promise<HeldStreams> {
  const headers = { authorization: `Bearer ${job.apiKey}` };
  const controller = new AbortController();
  const clients = Array.from({ length: Math.ceil(job.streams / job.perConnection) }, () =>
    createGrpcClient(ChatService, { address: job.address, defaultTimeoutMs: 1_800_000 }),
  );
  let released = false;
  let endedEarly = 0;
  let firstError: string | undefined;
  const running: Promise<void>[] = [];
  for (let i = 0; i < job.streams; i++) {
    const client = clients[Math.floor(i / job.perConnection)];
    if (!client) break;
    running.push(
      (async () => {
        try {
          for await (const _ of client.chatStream(
            { message: job.message },
            { headers, signal: controller.signal },
          )) {
            // Events are not expected: the model never answers.
          }
          if (!released) endedEarly++;
        } catch (error) {
          if (released) return;
          endedEarly++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      })(),
    );
    // Streams arrive paced (200 every 50 ms, 4,000/s), as clients would: a burst of
    // 10,000 at once on one connection is another test (see the README).
    if (i % 200 === 199) {
      onProgress(i + 1);
      await sleep(job.batchPauseMs);
    }
  }
  onProgress(running.length);
  return {
    async release() {
      released = true;
      controller.abort();
      await Promise.all(running);
      return { opened: running.length, endedEarly, ...(firstError ? { firstError } : {}) };
    },
  };
}
