// The model's circuit breaker on a manual clock: refusals without calling the model,
// one trial call once the wait is over.
import { createManualClock } from '@toolmesh/clock';
import {
  type ModelAnswer,
  ModelCircuitOpenError,
  type ModelClient,
  ModelUnavailableError,
  withModelBreaker,
} from '../src/model/index.ts';

const answer: ModelAnswer = { content: 'ok', toolCalls: [], usage: { promptTokens: 1, completionTokens: 1 } };
const request = { messages: [], tools: [] };

function flakyModel() {
  const state = { up: false, calls: 0, cancel: false };
  const client: ModelClient = {
    async complete() {
      state.calls++;
      if (state.cancel) throw new DOMException('cancelled', 'AbortError');
      if (!state.up) throw new ModelUnavailableError(new Error('connection refused'));
      return answer;
    },
  };
  return { state, client };
}

test('after the threshold the breaker refuses without calling the model, then tries once when the wait is over', async () => {
  const clock = createManualClock();
  const model = flakyModel();
  const states: string[] = [];
  const breaker = withModelBreaker(model.client, {
    failureThreshold: 2,
    halfOpenAfterMs: 10_000,
    onStateChange: (s) => states.push(s),
    clock,
  });
  await expect(breaker.complete(request)).rejects.toBeInstanceOf(ModelUnavailableError);
  await expect(breaker.complete(request)).rejects.toBeInstanceOf(ModelUnavailableError);
  expect(states).toEqual(['open']);
  const refused = await breaker.complete(request).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(ModelCircuitOpenError);
  expect((refused as ModelCircuitOpenError).retryAfterMs).toBe(10_000);
  expect(model.state.calls).toBe(2);

  await clock.advance(4_000);
  const later = await breaker.complete(request).catch((e: unknown) => e);
  expect((later as ModelCircuitOpenError).retryAfterMs).toBe(6_000);
  expect(model.state.calls).toBe(2);

  // The wait is over but the model is still down: the one trial fails and the breaker opens again.
  await clock.advance(6_000);
  await expect(breaker.complete(request)).rejects.not.toBeInstanceOf(ModelCircuitOpenError);
  expect(model.state.calls).toBe(3);
  expect(states).toEqual(['open', 'half-open', 'open']);
  await expect(breaker.complete(request)).rejects.toBeInstanceOf(ModelCircuitOpenError);

  model.state.up = true;
  await clock.advance(10_000);
  expect(await breaker.complete(request)).toEqual(answer);
  expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
  expect(await breaker.complete(request)).toEqual(answer);
  expect(model.state.calls).toBe(5);
});

test('cancelled calls do not count as model failures', async () => {
  const model = flakyModel();
  model.state.cancel = true;
  const breaker = withModelBreaker(model.client, {
    failureThreshold: 1,
    halfOpenAfterMs: 10_000,
    clock: createManualClock(),
  });
  for (let i = 0; i < 3; i++)
    await expect(breaker.complete(request)).rejects.toMatchObject({ name: 'AbortError' });
  expect(model.state.calls).toBe(3);
});
