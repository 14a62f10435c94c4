import type { ModelBackend } from '../assistants/assistant-catalog.ts';
import type { ModelAnswer, ModelClient, ModelRequest } from './model-client.ts';
import { ModelUnavailableError } from './model-client.ts';

/** Options of {@link createModelPool}. */
export interface ModelPoolOptions {
  /** Builds the client of one backend (with its own breaker and instrumentation). */
  create: (backend: ModelBackend) => ModelClient;
}

/** One client per model backend, made on first use. */
export interface ModelPool {
  clientFor(backend: ModelBackend): ModelClient;
}

/**
 * Creates a {@link ModelPool}. Clients are cached by everything that makes them
 * (name, base URL, model, key, timeout), so a reload that changes a backend gets a
 * fresh client — and a fresh breaker — while unchanged backends keep theirs.
 */
export function createModelPool(options: ModelPoolOptions): ModelPool {
  const clients = new Map<string, ModelClient>();
  return {
    clientFor(backend) {
      const key = JSON.stringify([
        backend.name,
        backend.baseURL,
        backend.model,
        backend.apiKey,
        backend.timeoutMs ?? null,
      ]);
      let client = clients.get(key);
      if (!client) {
        client = options.create(backend);
        clients.set(key, client);
      }
      return client;
    },
  };
}

/** The answer and the backend that gave it. */
export interface FallbackAnswer {
  answer: ModelAnswer;
  backend: ModelBackend;
}

/**
 * Asks the backends in order: the next one only when the previous is unavailable
 * (breaker open, connection error, 5xx, timeout). A backend that answered — even
 * with a refusal (4xx), or with streamed text before it broke off — ends the
 * search, as does a cancelled call; with every
 * backend unavailable the last failure is thrown.
 */
export async function completeWithFallback(
  pool: ModelPool,
  backends: readonly ModelBackend[],
  request: ModelRequest,
  onFallback?: (from: ModelBackend, error: unknown) => void,
): Promise<FallbackAnswer> {
  // Made only when it is thrown: an error's stack trace costs on every model call otherwise.
  let failure: unknown;
  // A backend that streamed text has answered, even if it broke off: the caller has seen it.
  let spoke = false;
  const onTextDelta = request.onTextDelta;
  const sent: ModelRequest = onTextDelta
    ? {
        ...request,
        onTextDelta: (text) => {
          spoke = true;
          onTextDelta(text);
        },
      }
    : request;
  for (const backend of backends) {
    try {
      return { answer: await pool.clientFor(backend).complete(sent), backend };
    } catch (error) {
      if (request.signal?.aborted || spoke) throw error;
      if (!(error instanceof ModelUnavailableError) || error.refused) throw error;
      failure = error;
      if (backend !== backends.at(-1)) onFallback?.(backend, error);
    }
  }
  throw failure ?? new ModelUnavailableError(new Error('no model backend configured'));
}
