// Entry point of the `toolmesh` command: wires the process (arguments, environment,
// streams, Ctrl-C) to runCli and exits with its code.
import { runCli } from './run-cli.ts';

// The innermost running call gets Ctrl-C; with none, Ctrl-C ends the program.
const interruptHandlers: Array<() => void> = [];
process.on('SIGINT', () => {
  const handler = interruptHandlers.at(-1);
  if (handler) handler();
  else process.exit(130);
});

// `toolmesh audit | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

const code = await runCli({
  args: process.argv.slice(2),
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  onInterrupt(handler) {
    interruptHandlers.push(handler);
    return () => {
      const i = interruptHandlers.lastIndexOf(handler);
      if (i >= 0) interruptHandlers.splice(i, 1);
    };
  },
});
// Open HTTP/2 sessions would keep the process alive for their idle timeout: exit once
// the output is flushed.
process.stdout.write('', () => process.exit(code));
