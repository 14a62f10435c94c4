export { buildCompletion, type CompletionMeta, type Usage } from './build-completion.ts';
export { buildCompletionChunks, type CompletionChunksOptions } from './build-completion-chunks.ts';
export {
  type ChatCompletionRequest,
  chatCompletionRequestSchema,
  parseChatCompletionRequest,
} from './chat-completion-request.ts';
export { type Config, loadConfig } from './config.ts';
export { createModelServer, type ModelServer, type ModelServerOptions } from './create-model-server.ts';
export { estimateTokens } from './estimate-tokens.ts';
export {
  type PlannedToolCall,
  type PlannedTurn,
  type PlanTurnInput,
  planTurn,
  type ToolChoice,
} from './plan-turn.ts';
export {
  type ChatMessage,
  type ChatToolCall,
  type ConversationFacts,
  parseToolContent,
  readConversation,
  type ToolOutcome,
} from './read-conversation.ts';
