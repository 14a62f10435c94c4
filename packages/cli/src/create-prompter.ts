import { once } from 'node:events';
import readline from 'node:readline';

/** An answer, or why there is none: the input ended (Ctrl-D, end of a pipe) or Ctrl-C. */
export type Answer = { text: string } | { end: 'eof' | 'interrupt' };

/** Asks questions on the terminal or reads answers line by line from a pipe. */
export interface Prompter {
  ask(question: string): Promise<Answer>;
  /** Releases stdin so the process can exit. */
  close(): void;
}

/** Options of {@link createPrompter}. */
export interface PrompterOptions {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Where questions go (stdout, or stderr when stdout carries JSON). */
  output: NodeJS.WritableStream;
}

/**
 * On a terminal each question gets its own readline (line editing, history), closed
 * after the answer so the terminal is back in cooked mode while a turn streams and
 * Ctrl-C reaches the process as SIGINT. From a pipe one reader lives as long as the
 * prompter, so lines read ahead are kept for the next question, and each answer is
 * echoed after its question to keep the transcript readable.
 */
export function createPrompter(options: PrompterOptions): Prompter {
  const { input, output } = options;
  if (input.isTTY) {
    const history: string[] = [];
    return {
      async ask(question) {
        const rl = readline.createInterface({ input, output, terminal: true, history, historySize: 100 });
        try {
          const answered = new Promise<Answer>((resolve) => {
            rl.question(question, (text) => resolve({ text }));
          });
          const interrupted = once(rl, 'SIGINT').then((): Answer => ({ end: 'interrupt' }));
          const closed = once(rl, 'close').then((): Answer => ({ end: 'eof' }));
          const answer = await Promise.race([answered, interrupted, closed]);
          if ('end' in answer) output.write('\n');
          return answer;
        } finally {
          rl.close();
        }
      },
      close() {},
    };
  }

  let lines: AsyncIterator<string> | undefined;
  let reader: readline.Interface | undefined;
  return {
    async ask(question) {
      if (!reader) {
        reader = readline.createInterface({ input, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
        lines = reader[Symbol.asyncIterator]();
      }
      output.write(question);
      const next = await (lines as AsyncIterator<string>).next();
      if (next.done) {
        output.write('\n');
        return { end: 'eof' };
      }
      output.write(`${next.value}\n`);
      return { text: next.value };
    },
    close() {
      reader?.close();
    },
  };
}
