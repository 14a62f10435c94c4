import { styleText } from 'node:util';

/** Colors and marks for terminal output. */
export type Style = Parameters<typeof styleText>[0];

/** Streamed text plus one status line of running work (a spinner) below it. */
export interface LiveOutput {
  /** Writes text as it arrives (model deltas); it may end mid-line. */
  write(text: string): void;
  /** Writes one whole line, starting a new line first if the cursor is mid-line. */
  line(text: string): void;
  /** Ends a line left open by {@link write}. */
  endLine(): void;
  /** Styles text when the stream is a color terminal (honours NO_COLOR and FORCE_COLOR). */
  style(format: Style, text: string): string;
  /** Shows a task in the status line until {@link end} (a no-op off a terminal). */
  begin(id: string, label: string): void;
  end(id: string): void;
  /** Stops the spinner and clears the status line. */
  close(): void;
}

/** Options of {@link createLiveOutput}. */
export interface LiveOutputOptions {
  /** Draw a spinner; only makes sense on a terminal. */
  spinner: boolean;
}

const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const clearLine = '\r\x1b[2K';

/**
 * Output for streamed turns. The spinner is one status line kept under the text: it is
 * cleared before anything is written and drawn again after, so parallel tool calls share
 * it and streamed text never interleaves with it. Without a terminal nothing is drawn.
 */
export function createLiveOutput(stream: NodeJS.WriteStream, options: LiveOutputOptions): LiveOutput {
  const running = new Map<string, { label: string; since: number }>();
  let atLineStart = true;
  let statusShown = false;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;

  const style = (format: Style, text: string) => styleText(format, text, { stream });
  const hideStatus = () => {
    if (!statusShown) return;
    stream.write(clearLine);
    statusShown = false;
  };
  const drawStatus = () => {
    if (!options.spinner || running.size === 0 || !atLineStart) return;
    const now = Date.now();
    const labels = [...running.values()].map(
      (r) => `${r.label}${now - r.since >= 1000 ? ` ${Math.floor((now - r.since) / 1000)}s` : ''}`,
    );
    const text = `${frames[frame % frames.length]} ${labels.join(', ')}`;
    const width = Math.max(20, (stream.columns ?? 80) - 1);
    stream.write(`${clearLine}${style('cyan', text.length > width ? `${text.slice(0, width - 1)}…` : text)}`);
    statusShown = true;
  };
  const write = (text: string) => {
    if (!text) return;
    hideStatus();
    stream.write(text);
    atLineStart = text.endsWith('\n');
    drawStatus();
  };
  const endLine = () => {
    if (!atLineStart) write('\n');
  };

  return {
    write,
    line(text) {
      endLine();
      write(`${text}\n`);
    },
    endLine,
    style,
    begin(id, label) {
      running.set(id, { label, since: Date.now() });
      if (!options.spinner) return;
      // Text that stopped mid-line ("Let me check…") gets its own line above the spinner.
      endLine();
      timer ??= setInterval(() => {
        frame++;
        drawStatus();
      }, 80);
      drawStatus();
    },
    end(id) {
      running.delete(id);
      if (running.size > 0) return;
      clearInterval(timer);
      timer = undefined;
      hideStatus();
    },
    close() {
      running.clear();
      clearInterval(timer);
      timer = undefined;
      hideStatus();
    },
  };
}
