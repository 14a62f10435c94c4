// The model as the turn sees it: chat-completions clients per backend, each behind its
// own circuit breaker, with fallbacks tried only when a backend is unavailable.

export { createModelFetch, type ModelFetch, type ModelFetchOptions } from './create-model-fetch.ts';
export { type ModelBreakerOptions, ModelCircuitOpenError, withModelBreaker } from './model-breaker.ts';
export {
  createModelClient,
  type ModelAnswer,
  type ModelClient,
  type ModelClientOptions,
  type ModelRequest,
  ModelUnavailableError,
} from './model-client.ts';
export {
  completeWithFallback,
  createModelPool,
  type FallbackAnswer,
  type ModelPool,
  type ModelPoolOptions,
} from './model-pool.ts';
