import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `toolmesh` shim, run as npm links it. */
export const binPath = fileURLToPath(new URL('../bin/toolmesh.js', import.meta.url));
/** The link npm workspaces create in the repository's node_modules/.bin. */
export const linkedBinPath = fileURLToPath(new URL('../../../node_modules/.bin/toolmesh', import.meta.url));

/** What one run of the CLI printed and how it ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runToolmesh}. */
export interface RunOptions {
  /** Piped to stdin, then stdin is closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Killed after this long; default 60 s. */
  timeoutMs?: number;
  /** Run through node_modules/.bin (the shebang finds Node 24 on PATH) instead of `node bin/toolmesh.js`. */
  linked?: boolean;
}

/** Environment without colors, whatever the test runner set, and with Node 24 first on PATH. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
  };
  delete env.FORCE_COLOR;
  delete env.TOOLMESH_API_KEY;
  delete env.TOOLMESH_GATEWAY;
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Runs `toolmesh <args>` as a real process with piped stdio. */
export function runToolmesh(args: string[], options: RunOptions = {}): Promise<CliRun> {
  const [command, argv] = options.linked ? [linkedBinPath, args] : [process.execPath, [binPath, ...args]];
  const child = spawn(command, argv, { env: cliEnv(options.env), stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Options of {@link runInTerminal}. */
export interface TerminalRunOptions {
  env?: NodeJS.ProcessEnv;
  /** Typed (with Enter) each time the output shows this prompt. */
  answers?: { prompt: string; text: string }[];
  timeoutMs?: number;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `toolmesh <args>` in a pseudo-terminal with util-linux `script`, so stdin and
 * stdout are TTYs (spinner, readline prompts). Answers are typed only when their prompt
 * has appeared, as a person would; the output is the raw terminal stream.
 */
export function runInTerminal(args: string[], options: TerminalRunOptions = {}): Promise<CliRun> {
  const commandLine = [
    // A fixed terminal size: script's own stdin is a pipe, so the pty would have none.
    'stty cols 120 rows 40;',
    'exec',
    shellQuote(process.execPath),
    shellQuote(binPath),
    ...args.map(shellQuote),
  ].join(' ');
  const env = cliEnv(options.env);
  delete env.NO_COLOR;
  const child = spawn('script', ['-q', '-e', '-c', commandLine, '/dev/null'], { env, stdio: 'pipe' });
  const answers = [...(options.answers ?? [])];
  let stdout = '';
  let stderr = '';
  let answeredUpTo = 0;
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    const next = answers[0];
    if (next && stdout.indexOf(next.prompt, answeredUpTo) >= 0) {
      answeredUpTo = stdout.length;
      answers.shift();
      child.stdin.write(`${next.text}\r`);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, stdout, stderr });
    });
  });
}
