export type {
  Assistant,
  AssistantCatalog,
  AssistantLimits,
  AssistantProfile,
  AssistantVariant,
  ChosenAssistant,
  ModelBackend,
  TenantPolicy,
} from './assistant-catalog.ts';
export {
  AssistantsFileError,
  type AssistantsFileIssue,
  formatAssistantsFileIssue,
} from './assistants-file-error.ts';
export {
  type AssistantRequest,
  assistantAllowed,
  assistantsForTenant,
  chooseAssistant,
  defaultAssistantFor,
  pickVariant,
} from './choose-assistant.ts';
export {
  type AssistantSource,
  type AssistantSourceOptions,
  createAssistantSource,
} from './create-assistant-source.ts';
export { neutralAssistantName, neutralCatalog, neutralInstructions } from './neutral-catalog.ts';
export {
  assistantsFileVersion,
  type ParseAssistantsFileOptions,
  parseAssistantsFile,
} from './parse-assistants-file.ts';
export { matchesToolPattern, toolAllowed, toolFilter } from './tool-allowed.ts';
