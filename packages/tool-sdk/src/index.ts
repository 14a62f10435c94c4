export { callCredential, delegatedCredentials } from './call-credential.ts';
export { createTaskService, type TaskServiceOptions } from './create-task-service.ts';
export {
  createTaskStore,
  type EnqueueTaskInput,
  type TaskFailure,
  type TaskOwner,
  type TaskStore,
  type TaskStoreOptions,
} from './create-task-store.ts';
export { createTaskWorker, type TaskWorker, type TaskWorkerOptions } from './create-task-worker.ts';
export { createToolServer, type ToolServerOptions } from './create-tool-server.ts';
export { createToolService, type ToolServiceOptions } from './create-tool-service.ts';
export {
  type AsyncTool,
  type AsyncToolSpec,
  defineAsyncTool,
  isAsyncTool,
  type TaskContext,
} from './define-async-tool.ts';
export {
  defineTool,
  type Tool,
  type ToolContext,
  type ToolMetadataInput,
  type ToolSpec,
} from './define-tool.ts';
export { type ServeToolServiceOptions, serveToolService } from './serve-tool-service.ts';
export { taskMigrationBaseVersion, taskMigrations } from './task-migrations.ts';
export { type TaskRecord, type TaskState, taskIdPattern } from './task-record.ts';
export { ToolFailure, toolErrors } from './tool-failure.ts';
