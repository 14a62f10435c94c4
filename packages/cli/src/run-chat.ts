import { create, toJson } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import {
  type ChatResponse,
  ChatResponseSchema,
  ChatService,
  ChatStreamResponseSchema,
  ConfirmResponseSchema,
  type PendingAction,
  StopReason,
} from '@toolmesh/proto';
import { type CliContext, exitCode } from './cli-context.ts';
import { createPrompter } from './create-prompter.ts';
import { formatClock } from './format-clock.ts';
import { createLiveOutput, type LiveOutput } from './live-output.ts';
import { printable, printableJson, printableLine } from './printable.ts';
import { compactJson, renderToolExecution } from './render-tool-execution.ts';

/** Options of {@link runChat}. */
export interface ChatOptions {
  /** One-shot: this message, then the approvals, then exit. Absent: an interactive loop. */
  message?: string;
  /** Continue this conversation. */
  conversationId?: string;
  /** The assistant to talk to (ChatRequest.assistant); absent: the tenant's or the mesh's default. */
  assistant?: string;
}

const chatStreamRpc = 'toolmesh.v1.ChatService/ChatStream';
const confirmRpc = 'toolmesh.v1.ChatService/Confirm';

// Thrown inside a turn when Ctrl-C stopped it; the loop decides what happens next.
const interrupted = new Error('interrupted');

/**
 * `toolmesh chat`: streams each turn (text deltas, tool calls with a spinner, pending
 * actions), then asks about every pending action and sends the answers with Confirm.
 */
export async function runChat(ctx: CliContext, options: ChatOptions): Promise<number> {
  const client = createClient(ChatService, ctx.transport);
  const out = createLiveOutput(ctx.stdout, { spinner: Boolean(ctx.stdout.isTTY) && !ctx.json });
  // With --json, stdout is for JSON lines only: questions and notes go to stderr.
  const notes = ctx.json ? createLiveOutput(ctx.stderr, { spinner: false }) : out;
  const prompter = createPrompter({ input: ctx.stdin, output: ctx.json ? ctx.stderr : ctx.stdout });
  let conversationId = options.conversationId ?? '';
  // The interactive session may switch with /assistant; a conversation keeps the one it started with.
  let assistant = options.assistant ?? '';
  // The call in flight, named in error messages.
  let rpc = chatStreamRpc;

  // Runs one call with Ctrl-C bound to cancelling it.
  const interruptible = async <T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const controller = new AbortController();
    const off = ctx.onInterrupt(() => controller.abort());
    try {
      return await call(controller.signal);
    } catch (error) {
      if (controller.signal.aborted) throw interrupted;
      throw error;
    } finally {
      off();
      out.close();
    }
  };

  const emitJson = (line: unknown) => ctx.stdout.write(`${printableJson(line)}\n`);

  const streamTurn = (message: string) =>
    interruptible(async (signal) => {
      const args = new Map<string, string>();
      const shown = new Set<string>();
      let streamedText = false;
      let final: ChatResponse = create(ChatResponseSchema, { conversationId });
      rpc = chatStreamRpc;
      const stream = client.chatStream(
        { conversationId, message, assistant },
        { signal, ...(ctx.timeoutMs ? { timeoutMs: ctx.timeoutMs } : {}) },
      );
      for await (const res of stream) {
        if (ctx.json) emitJson(toJson(ChatStreamResponseSchema, res));
        const event = res.event;
        switch (event.case) {
          case 'textDelta':
            if (!ctx.json) out.write(printable(event.value.text));
            streamedText ||= event.value.text.length > 0;
            break;
          case 'toolCallStarted':
            args.set(event.value.toolCallId, event.value.argumentsJson);
            out.begin(event.value.toolCallId, printableLine(event.value.toolName));
            break;
          case 'toolCallFinished': {
            const execution = event.value.execution;
            if (!execution) break;
            out.end(execution.toolCallId);
            shown.add(execution.toolCallId);
            if (!ctx.json) out.line(renderToolExecution(execution, out, args.get(execution.toolCallId)));
            break;
          }
          case 'final':
            final = event.value;
            break;
        }
      }
      conversationId = final.conversationId || conversationId;
      if (!ctx.json) {
        // A replayed turn (same idempotency key) or a server that streams no events still shows its result.
        for (const execution of final.toolExecutions) {
          if (!shown.has(execution.toolCallId)) out.line(renderToolExecution(execution, out));
        }
        if (!streamedText && final.reply) out.line(printable(final.reply));
        out.endLine();
        if (final.stopReason === StopReason.ROUND_LIMIT) {
          out.line(
            out.style('yellow', '(the round limit was reached; this answer was given without more tools)'),
          );
        }
      }
      return final.pendingActions;
    });

  const confirm = (action: PendingAction, approve: boolean) =>
    interruptible(async (signal) => {
      out.begin(action.actionId, `${approve ? 'running' : 'declining'} ${printableLine(action.toolName)}`);
      rpc = confirmRpc;
      const res = await client.confirm(
        { conversationId, actionId: action.actionId, approve },
        { signal, ...(ctx.timeoutMs ? { timeoutMs: ctx.timeoutMs } : {}) },
      );
      out.end(action.actionId);
      if (ctx.json) {
        emitJson({ confirm: toJson(ConfirmResponseSchema, res) });
      } else {
        if (!approve) {
          out.line(out.style('dim', `declined ${printableLine(action.toolName)}; it was not executed`));
        }
        for (const execution of res.toolExecutions) out.line(renderToolExecution(execution, out));
        if (res.reply) out.line(printable(res.reply));
      }
      return res.pendingActions;
    });

  // Asks about each pending action in turn; Confirm answers with those still undecided.
  const decide = async (pending: PendingAction[]): Promise<number> => {
    let queue = pending;
    while (queue.length > 0) {
      const action = queue[0] as PendingAction;
      describePending(notes, action);
      // Summaries often start with the call itself ("create_ticket(order_id=…)"): name the tool once.
      // One line, cleaned: nothing the server sent may draw over or around the question.
      const toolName = printableLine(action.toolName);
      const summary = printableLine(action.summary);
      const what = summary.startsWith(toolName) ? summary : `${toolName} ${summary}`.trim();
      const answer = await prompter.ask(`Approve ${what}? [y/N] `);
      if ('end' in answer) {
        notes.line(
          notes.style(
            'yellow',
            `left pending: decide later with \`toolmesh confirm ${printableLine(conversationId)} ${printableLine(action.actionId)}\` (or --decline)`,
          ),
        );
        return answer.end === 'interrupt' ? exitCode.interrupted : exitCode.ok;
      }
      const approve = /^\s*y(es)?\s*$/i.test(answer.text);
      queue = await confirm(action, approve);
    }
    return exitCode.ok;
  };

  const turn = async (message: string): Promise<number> => {
    try {
      const pending = await streamTurn(message);
      return await decide(pending);
    } catch (error) {
      out.endLine();
      if (error === interrupted) {
        notes.line(notes.style('yellow', 'cancelled'));
        return exitCode.interrupted;
      }
      return ctx.reportError(error, rpc);
    }
  };

  try {
    if (options.message !== undefined) {
      const code = await turn(options.message);
      if (!ctx.json && conversationId)
        notes.line(notes.style('dim', `conversation ${printableLine(conversationId)}`));
      return code;
    }
    if (ctx.stdin.isTTY && !ctx.json) {
      notes.line(
        notes.style(
          'dim',
          'toolmesh chat: type a message, /assistant <name> to start over with another assistant, Ctrl-D to quit, Ctrl-C to cancel a turn.',
        ),
      );
    }
    let failed = false;
    let interruptedAtPrompt = false;
    for (;;) {
      const answer = await prompter.ask(ctx.json ? '' : out.style('bold', 'you> '));
      if ('end' in answer) {
        if (answer.end === 'interrupt') interruptedAtPrompt = true;
        break;
      }
      const message = answer.text.trim();
      if (!message) continue;
      if (message === '/exit' || message === '/quit') break;
      const switchTo = /^\/assistant(?:\s+(\S+))?$/.exec(message);
      if (switchTo) {
        if (switchTo[1]) {
          assistant = switchTo[1];
          // A conversation stays with its assistant: the next message starts a new one.
          if (conversationId) {
            notes.line(notes.style('dim', `conversation ${printableLine(conversationId)} left`));
          }
          conversationId = '';
        }
        notes.line(
          notes.style('dim', `assistant: ${assistant ? printableLine(assistant) : '(the default)'}`),
        );
        continue;
      }
      const code = await turn(message);
      failed ||= code === exitCode.failed;
      if (!ctx.json) out.line('');
    }
    if (!ctx.json && conversationId)
      notes.line(notes.style('dim', `conversation ${printableLine(conversationId)}`));
    if (interruptedAtPrompt) return exitCode.interrupted;
    return failed ? exitCode.failed : exitCode.ok;
  } finally {
    prompter.close();
  }
}

function describePending(out: LiveOutput, action: PendingAction): void {
  out.line('');
  const expires = action.expiresAt ? formatClock(timestampDate(action.expiresAt)) : undefined;
  out.line(
    `${out.style('yellow', '⏸')} ${out.style('bold', printableLine(action.toolName))} needs your approval${
      expires ? out.style('dim', ` (expires ${expires})`) : ''
    }`,
  );
  out.line(`  ${out.style('dim', compactJson(action.argumentsJson, 200))}`);
}
