// The tools: registry over discovery, validation, admission, the read cache and execution on the tool services.
export { type ArgumentValidator, compileArgumentValidator } from './argument-validator.ts';
export { canonicalJson } from './canonical-json.ts';
export { mergePublished, type PublishedTools, type RefusedToolInfo } from './merge-published.ts';
export { describeRegistry } from './registry-view.ts';
export { createResultCache } from './result-cache.ts';
export { selectTools, type ToolSelection } from './select-tools.ts';
export { createTaskForwarder } from './task-forwarder.ts';
export { type CollectTaskResults, createTaskResultCollector } from './task-results.ts';
export {
  type Admission,
  createToolAdmission,
  type ToolAdmission,
  type ToolAdmissionOptions,
} from './tool-admission.ts';
export { createToolCredentials, type ToolCallIdentity, type ToolCredentials } from './tool-credentials.ts';
export type {
  BreakerStateName,
  EndpointObservers,
  EndpointPolicyOptions,
  ToolEndpoint,
} from './tool-endpoint.ts';
export {
  createToolExecutor,
  type ExecutionContext,
  type ExecutionObserver,
  type PlannedCall,
  type ToolExecutor,
  type ToolExecutorOptions,
  type ToolInstrumentation,
} from './tool-executor.ts';
export { failedOutcome, type ToolOutcome } from './tool-outcome.ts';
export {
  createToolRegistry,
  type KnownEndpoint,
  type RegisteredTool,
  type ServedVersion,
  type ToolRegistry,
  type ToolRegistryOptions,
} from './tool-registry.ts';
