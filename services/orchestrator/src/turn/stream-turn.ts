import type { ChatResponse } from '@toolmesh/proto';
import type { ChatEvent, EmitEvent } from './turn-context.ts';

/**
 * Runs a turn and yields its events as they happen, then the final response.
 * Events are buffered, so a slow reader never blocks the turn.
 */
export async function* streamTurn(
  run: (emit: EmitEvent) => Promise<ChatResponse>,
): AsyncGenerator<ChatEvent> {
  const queue: ChatEvent[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: { error: unknown } | undefined;
  let response: ChatResponse | undefined;
  run((event) => {
    queue.push(event);
    wake?.();
  })
    .then(
      (r) => {
        response = r;
      },
      (error: unknown) => {
        failure = { error };
      },
    )
    .finally(() => {
      finished = true;
      wake?.();
    });
  for (;;) {
    while (queue.length) yield queue.shift() as ChatEvent;
    if (finished) break;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
    wake = undefined;
  }
  if (failure) throw failure.error;
  if (response) yield { case: 'final', value: response };
}
