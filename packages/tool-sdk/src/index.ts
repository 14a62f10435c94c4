export { createToolService, type ToolServiceOptions } from './create-tool-service.ts';
export {
  defineTool,
  type Tool,
  type ToolContext,
  type ToolMetadataInput,
  type ToolSpec,
} from './define-tool.ts';
export { ToolFailure, toolErrors } from './tool-failure.ts';
