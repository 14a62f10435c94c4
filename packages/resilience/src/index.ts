export {
  type CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitOpenError,
  type CircuitState,
  createCircuitBreaker,
} from './circuit-breaker.ts';
export { isStorageUnavailable } from './is-storage-unavailable.ts';
export { type RetryOptions, retryWithBackoff } from './retry-with-backoff.ts';
