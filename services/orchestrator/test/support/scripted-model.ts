// A model client that answers from a script: the only fake of the turn besides its own ports.
import type { ModelAnswer, ModelClient, ModelRequest } from '../../src/model/index.ts';

/** One scripted answer: text, tool calls (ids default to call_<n>), or a failure to throw. */
export type ScriptedAnswer =
  | { content?: string; toolCalls?: { id?: string; name: string; arguments: unknown }[] }
  | Error;

/** A model client that records its requests. */
export interface ScriptedModel extends ModelClient {
  readonly requests: ModelRequest[];
}

/** A tool call as the script writes it: arguments as an object, or as raw (possibly broken) text. */
export const toolCall = (name: string, args: unknown = {}, id?: string) => ({ id, name, arguments: args });

/**
 * `script(request, step)` answers each request; `step` counts the model calls since the
 * latest user message (0 for the first round of a turn), as a model reading the transcript would.
 */
export function createScriptedModel(
  script: (request: ModelRequest, step: number) => ScriptedAnswer,
): ScriptedModel {
  const requests: ModelRequest[] = [];
  let ids = 0;
  return {
    requests,
    async complete(request) {
      requests.push(request);
      const lastUser = request.messages.map((m) => m.role).lastIndexOf('user');
      const step = request.messages.slice(lastUser).filter((m) => m.role === 'assistant').length;
      const answer = script(request, step);
      if (answer instanceof Error) throw answer;
      if (answer.content) request.onTextDelta?.(answer.content);
      const result: ModelAnswer = {
        content: answer.content ?? null,
        toolCalls: (answer.toolCalls ?? []).map((c) => ({
          id: c.id ?? `call_${++ids}`,
          name: c.name,
          arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
        })),
        usage: { promptTokens: 10, completionTokens: 5 },
      };
      return result;
    },
  };
}
