import { readFileSync } from 'node:fs';
import { styleText } from 'node:util';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { type CliContext, type CliStreams, exitCode, type OnInterrupt } from './cli-context.ts';
import { createGatewayTransport, type Protocol, protocols } from './create-gateway-transport.ts';
import { describeError } from './describe-error.ts';
import { parseGatewayAddress, plaintextWarning } from './gateway-address.ts';
import { printableJson, printableLine } from './printable.ts';
import { runAssistants } from './run-assistants.ts';
import { runAudit } from './run-audit.ts';
import { runChat } from './run-chat.ts';
import { runConfirm } from './run-confirm.ts';
import { runTaskGet, runTaskWatch } from './run-tasks.ts';
import { runTools } from './run-tools.ts';
import { runUsage } from './run-usage.ts';
import {
  formatScaffoldResult,
  ScaffoldError,
  scaffoldStandaloneToolService,
  scaffoldToolService,
} from './scaffold/index.ts';

/** Options of {@link runCli}. */
export interface RunCliOptions extends CliStreams {
  /** The arguments after the program name. */
  args: string[];
  /** TOOLMESH_GATEWAY, TOOLMESH_API_KEY and TOOLMESH_REQUIRE_TLS are read from here, as defaults of the flags. */
  env: Record<string, string | undefined>;
  onInterrupt: OnInterrupt;
  /** Where `new-tool-service` looks for the monorepo; default the process's working directory. */
  cwd?: string;
}

/** The global flags, as commander parses them. */
interface GlobalFlags {
  gateway: string;
  apiKey?: string;
  tls?: boolean;
  requireTls?: boolean;
  protocol: Protocol;
  timeout?: number;
  json?: boolean;
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** The development key the gateway accepts when TOOLMESH_API_KEYS is unset (README). */
const devApiKey = 'dev-key-u1001';

// Usage mistakes found after parsing (a bad address, no key) exit like commander's own.
class UsageError extends Error {}

const positiveNumber = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
};
const positiveInteger = (value: string) => {
  const n = positiveNumber(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
};

const isoTime = (value: string) => {
  // A date with a time and no zone would be read in the machine's zone: ask for one.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(value)) {
    throw new InvalidArgumentError(
      'expected an ISO 8601 time with a zone, e.g. 2026-12-01T09:00:00Z, or a date',
    );
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('expected a valid time');
  return date;
};

/** Parses the arguments, runs one command and answers its exit code; never calls process.exit. */
export async function runCli(options: RunCliOptions): Promise<number> {
  const { stdout, stderr, env } = options;
  let result: number = exitCode.ok;

  const contextFor = (command: Command): CliContext => {
    const flags = command.optsWithGlobals<GlobalFlags>();
    let address: ReturnType<typeof parseGatewayAddress>;
    try {
      address = parseGatewayAddress(flags.gateway, Boolean(flags.tls));
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    // The dev key is only a safe guess for a gateway on this machine; elsewhere a key must be given.
    const apiKey = flags.apiKey ?? env.TOOLMESH_API_KEY ?? (address.loopback ? devApiKey : undefined);
    if (!apiKey) {
      throw new UsageError(`no API key for ${address.baseUrl}: pass --api-key <key> or set TOOLMESH_API_KEY`);
    }
    const json = Boolean(flags.json);
    // Said before the first call, so the key has not left yet when the user reads it.
    const warning = plaintextWarning(address);
    if (warning) {
      if (flags.requireTls) throw new UsageError(`refusing: ${warning}`);
      if (json) stderr.write(`${JSON.stringify({ warning })}\n`);
      else stderr.write(`${styleText('yellow', `warning: ${warning}`, { stream: stderr })}\n`);
    }
    return {
      ...options,
      json,
      transport: createGatewayTransport({ baseUrl: address.baseUrl, apiKey, protocol: flags.protocol }),
      ...(flags.timeout ? { timeoutMs: flags.timeout * 1000 } : {}),
      reportError(error, rpc) {
        const d = describeError(error, { baseUrl: address.baseUrl, rpc });
        // The message (and a hint naming a dependency) come from the server.
        if (json) {
          stderr.write(`${printableJson({ error: d })}\n`);
        } else {
          const message = printableLine(d.message);
          stderr.write(`${styleText('red', `error: ${d.code}: ${message}`, { stream: stderr })}\n`);
          if (d.hint) {
            stderr.write(`${styleText('yellow', `hint: ${printableLine(d.hint)}`, { stream: stderr })}\n`);
          }
        }
        return exitCode.failed;
      },
    };
  };
  // Every action resolves its context first, so --help and usage errors never need a key.
  const action =
    <A extends unknown[]>(run: (ctx: CliContext, ...args: A) => Promise<number>) =>
    async (...args: [...A, Command]) => {
      // commander passes the arguments, the command's options, then the command itself.
      const command = args[args.length - 1] as Command;
      result = await run(contextFor(command), ...(args.slice(0, -1) as A));
    };

  const program = new Command('toolmesh')
    .description(
      'Talk to a toolmesh gateway: chat with approvals, assistants, the tool registry, tasks, the audit log and usage.',
    )
    .version(version)
    .option(
      '-g, --gateway <address>',
      'gateway host:port or URL (env TOOLMESH_GATEWAY)',
      env.TOOLMESH_GATEWAY || '127.0.0.1:8080',
    )
    .option(
      '-k, --api-key <key>',
      `API key (env TOOLMESH_API_KEY; default ${devApiKey} for a gateway on localhost only)`,
    )
    .option('--tls', 'connect with TLS (https); implied by an https:// gateway URL')
    .addOption(
      new Option(
        '--require-tls',
        'refuse to send the key over plain HTTP to a gateway not on this machine (env TOOLMESH_REQUIRE_TLS=1); without it, a warning',
      ).default(/^(1|true|yes)$/i.test(env.TOOLMESH_REQUIRE_TLS ?? '')),
    )
    .addOption(
      new Option(
        '--protocol <protocol>',
        'wire protocol: gRPC over HTTP/2, or gRPC-Web/Connect over HTTP/1.1',
      )
        .choices(protocols)
        .default('grpc'),
    )
    .option('--timeout <seconds>', 'deadline of each call (default: the gateway decides)', positiveNumber)
    .option('--json', 'machine-readable output on stdout (JSON; chat: one event per line)')
    .showHelpAfterError('(run toolmesh --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => stdout.write(s),
      writeErr: (s) => stderr.write(s),
    });

  program
    .command('chat')
    .description('chat with the assistant: one message, or an interactive session when none is given')
    .argument('[message...]', 'the message (words are joined); omit for an interactive session')
    .option('-c, --conversation <id>', 'continue this conversation')
    .option(
      '-a, --assistant <name>',
      'talk to this assistant (see toolmesh assistants); default: your default',
    )
    .action(
      action((ctx, words: string[], opts: { conversation?: string; assistant?: string }) =>
        runChat(ctx, {
          ...(words.length ? { message: words.join(' ') } : {}),
          ...(opts.conversation ? { conversationId: opts.conversation } : {}),
          ...(opts.assistant ? { assistant: opts.assistant } : {}),
        }),
      ),
    );

  program
    .command('confirm')
    .description('approve (or with --decline, decline) a pending action')
    .argument('<conversation_id>')
    .argument('<action_id>')
    .option('--decline', 'decline instead of approving')
    .action(
      action((ctx, conversationId: string, actionId: string, opts: { decline?: boolean }) =>
        runConfirm(ctx, conversationId, actionId, !opts.decline),
      ),
    );

  program
    .command('tools')
    .description('the tool registry: tools, permissions, replicas and their circuit breakers')
    .action(action((ctx) => runTools(ctx)));

  const tasks = program.command('tasks').description('follow the tasks of async tools');
  tasks
    .command('get')
    .description('show a task once')
    .argument('<task_id>')
    .action(action((ctx, taskId: string) => runTaskGet(ctx, taskId)));
  tasks
    .command('watch')
    .description('print a task each time it changes, until it is done')
    .argument('<task_id>')
    .action(action((ctx, taskId: string) => runTaskWatch(ctx, taskId)));

  program
    .command('audit')
    .description('the newest audit records, one per tool execution (needs audit:read)')
    .option('-n, --limit <n>', 'how many records', positiveInteger, 20)
    .option('-c, --conversation <id>', 'only this conversation')
    .option('--tool <name>', 'only this tool')
    .option('--user <id>', 'only this user')
    .action(
      action((ctx, opts: { limit: number; conversation?: string; tool?: string; user?: string }) =>
        runAudit(ctx, {
          limit: opts.limit,
          ...(opts.conversation ? { conversationId: opts.conversation } : {}),
          ...(opts.tool ? { toolName: opts.tool } : {}),
          ...(opts.user ? { userId: opts.user } : {}),
        }),
      ),
    );

  program
    .command('assistants')
    .description('the assistants you may talk to (chat --assistant), their tools, models and variants')
    .action(action((ctx) => runAssistants(ctx)));

  program
    .command('usage')
    .description('model usage per tenant, assistant, variant and model (needs usage:read)')
    .option('--from <time>', 'start of the range, ISO 8601 (default: 24 hours before --to)', isoTime)
    .option('--to <time>', 'end of the range, ISO 8601 (default: now)', isoTime)
    .option('--tenant <id>', 'only this tenant (another than yours needs usage:read:all-tenants)')
    .option('--assistant <name>', 'only this assistant')
    .action(
      action((ctx, opts: { from?: Date; to?: Date; tenant?: string; assistant?: string }) =>
        runUsage(ctx, {
          ...(opts.from ? { from: opts.from } : {}),
          ...(opts.to ? { to: opts.to } : {}),
          ...(opts.tenant ? { tenantId: opts.tenant } : {}),
          ...(opts.assistant ? { assistant: opts.assistant } : {}),
        }),
      ),
    );

  program
    .command('new-tool-service')
    .description('scaffold a tool service (package, main.ts, one tool, a test, Dockerfile, kustomize)')
    .argument('<name>', 'kebab-case service name, e.g. billing')
    .option(
      '--dir <path>',
      'folder of the new service (default: services/<name> of this repository; with --standalone ./<name>)',
    )
    .option('--port <port>', 'its gRPC port', positiveInteger)
    .option('--metrics-port <port>', 'its /metrics port', positiveInteger)
    .option(
      '--standalone',
      'a service in a repository of its own, on the packed @toolmesh/* packages (npm run pack:sdk)',
    )
    .action(
      async (
        name: string,
        opts: { dir?: string; port?: number; metricsPort?: number; standalone?: boolean },
      ) => {
        // Works offline, against no gateway: it only writes files.
        try {
          const request = {
            name,
            cwd: options.cwd ?? process.cwd(),
            ...(opts.dir ? { directory: opts.dir } : {}),
            ...(opts.port ? { port: opts.port } : {}),
            ...(opts.metricsPort ? { metricsPort: opts.metricsPort } : {}),
          };
          const scaffolded = opts.standalone
            ? await scaffoldStandaloneToolService(request)
            : await scaffoldToolService(request);
          stdout.write(formatScaffoldResult(scaffolded));
        } catch (error) {
          if (error instanceof ScaffoldError) throw new UsageError(error.message);
          throw error;
        }
      },
    );

  try {
    await program.parseAsync(options.args, { from: 'user' });
    return result;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end parsing with "errors" of their own that are not failures.
      return error.exitCode === 0 ? exitCode.ok : exitCode.usage;
    }
    if (error instanceof UsageError) {
      stderr.write(`error: ${error.message}\n`);
      return exitCode.usage;
    }
    throw error;
  }
}
