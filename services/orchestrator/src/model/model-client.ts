import OpenAI from 'openai';
import type { Stream } from 'openai/core/streaming';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import type { ModelToolCall } from '../core-types.ts';
import { createModelFetch } from './create-model-fetch.ts';

/** Options of {@link createModelClient}. */
export interface ModelClientOptions {
  baseURL: string;
  apiKey: string;
  model: string;
  timeoutMs: number;
  /** SDK-level retries of 429/5xx/connection errors; default 2. */
  maxRetries?: number;
  /** The HTTP client under the SDK; default one lean undici-based fetch shared by all model clients. */
  fetch?: typeof globalThis.fetch;
}

/** One model request. */
export interface ModelRequest {
  messages: ChatCompletionMessageParam[];
  tools: ChatCompletionTool[];
  toolChoice?: ChatCompletionToolChoiceOption;
  signal?: AbortSignal;
  /** When set, the answer is streamed and each text piece is passed here. */
  onTextDelta?: (text: string) => void;
  /** Sampling temperature, sent as given when set. */
  temperature?: number;
  /** The answer's length limit in tokens, sent as `max_tokens` when set. */
  maxOutputTokens?: number;
  /** Who asked, for metrics and traces (names from the configuration, never from users). */
  labels?: { assistant: string; variant: string };
}

/** What the model answered. */
export interface ModelAnswer {
  content: string | null;
  toolCalls: ModelToolCall[];
  usage: { promptTokens: number; completionTokens: number };
}

/** Raised when the model cannot be reached or refuses; the boundary maps it to UNAVAILABLE. */
export class ModelUnavailableError extends Error {
  /**
   * The server answered and refused this request (a 4xx other than 408): it is up, so
   * a fallback model is not tried — another backend would most likely refuse it too.
   */
  readonly refused: boolean;
  constructor(cause: unknown, refused = false) {
    super('model unavailable', { cause });
    this.name = 'ModelUnavailableError';
    this.refused = refused;
  }
}

// The HTTP status of an openai SDK APIError, if the server answered at all.
function refusedByServer(error: unknown): boolean {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408;
}

/** A chat-completions client for any OpenAI-compatible server (OpenAI, vLLM, Ollama, the scripted model). */
export interface ModelClient {
  complete(request: ModelRequest): Promise<ModelAnswer>;
}

const jsonContent = { 'content-type': 'application/json' };

// One pool for every backend, as Node's fetch has one: backends on the same origin share
// connections, and a client rebuilt on reload leaves no pool of its own behind.
let sharedFetch: typeof globalThis.fetch | undefined;
function defaultFetch(): typeof globalThis.fetch {
  sharedFetch ??= createModelFetch().fetch;
  return sharedFetch;
}

/** Creates a {@link ModelClient} on the official `openai` SDK. */
export function createModelClient(options: ModelClientOptions): ModelClient {
  // Node's fetch cost more CPU per completion than the rest of the client (bench/src/
  // model-client-main.ts): the SDK gets a lean fetch on undici's dispatcher API, whose pool
  // keeps connections alive and reuses them (a test counts them). One client per backend
  // keeps the SDK's per-client setup out of the requests.
  const openai = new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    timeout: options.timeoutMs,
    maxRetries: options.maxRetries ?? 2,
    fetch: options.fetch ?? defaultFetch(),
  });

  // The output limit goes out as `max_tokens`: every OpenAI-compatible server (vLLM, Ollama,
  // llama.cpp, the scripted model) reads it, while `max_completion_tokens` is OpenAI's newer
  // name that several of them do not know yet.
  const base = (req: ModelRequest) => ({
    model: options.model,
    messages: req.messages,
    ...(req.tools.length ? { tools: req.tools, tool_choice: req.toolChoice ?? 'auto' } : {}),
    ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
    ...(req.maxOutputTokens === undefined ? {} : { max_tokens: req.maxOutputTokens }),
  });

  // chat.completions.create adds a promise chain of its own and hands the SDK the body as an
  // object, which it serializes with a replacer visiting every value (looking for `stream`):
  // twice plain JSON.stringify for a body of messages and tool schemas; together a fifth to a
  // third of the client's CPU per completion (bench/src/model-client-main.ts). The same POST
  // through the client's own `post`, the body as JSON text, keeps the SDK's timeouts, retries
  // and errors.
  const post = <T>(
    body: ChatCompletionCreateParamsNonStreaming | ChatCompletionCreateParamsStreaming,
    req: ModelRequest,
  ) =>
    openai.post<T>('/chat/completions', {
      body: JSON.stringify(body),
      headers: jsonContent,
      stream: body.stream === true,
      signal: req.signal,
    });

  async function plain(req: ModelRequest): Promise<ModelAnswer> {
    const res = await post<ChatCompletion>({ ...base(req), stream: false }, req);
    const message = res.choices[0]?.message;
    return {
      content: message?.content ?? null,
      toolCalls: (message?.tool_calls ?? []).flatMap((c) =>
        c.type === 'function' ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [],
      ),
      usage: {
        promptTokens: res.usage?.prompt_tokens ?? 0,
        completionTokens: res.usage?.completion_tokens ?? 0,
      },
    };
  }

  async function streamed(req: ModelRequest, onTextDelta: (text: string) => void): Promise<ModelAnswer> {
    const stream = await post<Stream<ChatCompletionChunk>>(
      { ...base(req), stream: true, stream_options: { include_usage: true } },
      req,
    );
    let content = '';
    const calls: { id: string; name: string; arguments: string }[] = [];
    const usage = { promptTokens: 0, completionTokens: 0 };
    for await (const chunk of stream) {
      if (chunk.usage) {
        usage.promptTokens = chunk.usage.prompt_tokens;
        usage.completionTokens = chunk.usage.completion_tokens;
      }
      const delta = chunk.choices[0]?.delta;
      if (!delta) continue;
      if (delta.content) {
        content += delta.content;
        onTextDelta(delta.content);
      }
      for (const d of delta.tool_calls ?? []) {
        const call = calls[d.index] ?? { id: '', name: '', arguments: '' };
        calls[d.index] = call;
        if (d.id) call.id = d.id;
        if (d.function?.name) call.name += d.function.name;
        if (d.function?.arguments) call.arguments += d.function.arguments;
      }
    }
    // The SDK ends a stream quietly when its request is aborted: a turn cancelled mid-answer
    // must not take the pieces that arrived for the model's whole answer.
    req.signal?.throwIfAborted();
    return { content: content || null, toolCalls: calls.filter(Boolean), usage };
  }

  return {
    async complete(req) {
      try {
        return req.onTextDelta ? await streamed(req, req.onTextDelta) : await plain(req);
      } catch (error) {
        if (req.signal?.aborted) throw error;
        throw new ModelUnavailableError(error, refusedByServer(error));
      }
    },
  };
}
