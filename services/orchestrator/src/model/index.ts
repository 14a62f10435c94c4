// The model as the turn sees it: one chat-completions client, behind a circuit breaker.

export { type ModelBreakerOptions, ModelCircuitOpenError, withModelBreaker } from './model-breaker.ts';
export {
  createModelClient,
  type ModelAnswer,
  type ModelClient,
  type ModelClientOptions,
  type ModelRequest,
  ModelUnavailableError,
} from './model-client.ts';
