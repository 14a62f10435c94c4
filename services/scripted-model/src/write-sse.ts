import type { ServerResponse } from 'node:http';

/**
 * Streams objects as Server-Sent Events the way OpenAI does (`data: {json}` each, then
 * `data: [DONE]`), honouring backpressure and stopping when the client goes away.
 */
export async function writeSse(res: ServerResponse, events: Iterable<object>): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  // Headers first: a client sees the stream open before the first token, as with a real model.
  res.flushHeaders();
  for (const event of events) {
    if (res.destroyed) return;
    if (!res.write(`data: ${JSON.stringify(event)}\n\n`)) {
      await drainedOrClosed(res);
    }
  }
  if (!res.destroyed) res.end('data: [DONE]\n\n');
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
