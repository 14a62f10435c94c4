// The model client over HTTP against the canned model: what goes on the wire, and which
// failures count as the model being unavailable (a fallback may be tried) or as a refusal.
import { startCannedModel } from '@toolmesh/testkit';
import { createModelClient, ModelUnavailableError } from '../src/model/index.ts';

const ask = { messages: [{ role: 'user' as const, content: 'hi' }], tools: [] };

test('temperature and the output limit (as max_tokens) are sent as given, and only when set', async () => {
  const model = await startCannedModel(() => ({ content: 'ok' }));
  try {
    const client = createModelClient({ baseURL: model.baseUrl, apiKey: 'k', model: 'm', timeoutMs: 10_000 });
    await client.complete({ ...ask, temperature: 0.1, maxOutputTokens: 321 });
    await client.complete({ ...ask, temperature: 0, onTextDelta: () => {} });
    await client.complete(ask);
    const sent = model.requests as unknown as Record<string, unknown>[];
    expect(sent[0]).toMatchObject({ model: 'm', temperature: 0.1, max_tokens: 321 });
    expect(sent[1]).toMatchObject({ temperature: 0, stream: true });
    expect(sent[1]).not.toHaveProperty('max_tokens');
    expect(sent[2]).not.toHaveProperty('temperature');
    expect(sent[2]).not.toHaveProperty('max_tokens');
  } finally {
    await model.close();
  }
});

test('a 4xx is a refusal by a model that is up; a 5xx is the model unavailable', async () => {
  let status = 400;
  const model = await startCannedModel(() => ({ status }));
  try {
    const client = createModelClient({
      baseURL: model.baseUrl,
      apiKey: 'k',
      model: 'm',
      timeoutMs: 10_000,
      maxRetries: 0,
    });
    const failure = async () => {
      const error = await client.complete(ask).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ModelUnavailableError);
      return error as ModelUnavailableError;
    };
    expect((await failure()).refused).toBe(true);
    status = 503;
    expect((await failure()).refused).toBe(false);
  } finally {
    await model.close();
  }
});
