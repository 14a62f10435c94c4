export { parseAssistantsFile } from './assistants/index.ts';
export { type ChatEngine, type ChatEngineOptions, createChatEngine } from './chat-engine.ts';
export { type Config, loadConfig } from './config.ts';
export type { ResultCache, StoredMessage } from './core-types.ts';
export { createModelClient } from './model/index.ts';
export { createOrchestratorServer } from './server.ts';
export {
  createConversationStore,
  createPendingActionStore,
  migrations,
  schema,
} from './store/index.ts';
export {
  canonicalJson,
  compileArgumentValidator,
  createToolCredentials,
  createToolExecutor,
  createToolRegistry,
} from './tools/index.ts';
export { buildPrompt, estimateTokens, fitToBudget, fitToolOutput, offeredTools } from './turn/index.ts';
