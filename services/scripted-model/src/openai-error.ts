/** The error body OpenAI answers with; clients (the openai SDK) read `error.message`. */
export function openAiError(message: string, type = 'invalid_request_error') {
  return { error: { message, type, param: null, code: null } };
}
