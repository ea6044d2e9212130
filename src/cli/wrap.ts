import type { Command } from 'commander';
import { runWrap } from '../wrap/run.js';
import { DEFAULT_MAX_BODY } from '../capture/engine.js';
import { resolveOtlp } from '../telemetry/setup.js';
import { dbOption, examples, fail, parseBytes, resolveDb } from './common.js';

interface WrapCliOptions {
  db?: string;
  label?: string;
  redact: boolean;
  maxBody: number;
  otlp?: string;
  otlpPayloads?: boolean;
}

export function registerWrap(program: Command): void {
  program
    .command('wrap')
    .description('run a stdio MCP server and record what it and its client say (nothing of mcptap\'s own goes to stdout)')
    .argument('<command...>', 'the server command and its arguments, after --')
    .addOption(dbOption())
    .option('--label <text>', 'name the session (shown in lists and the TUI)')
    .option('--no-redact', 'store secrets in arguments and messages as sent')
    .option('--max-body <bytes>', 'cap on the stored copy of each message (relaying is never capped)', parseBytes('--max-body'), DEFAULT_MAX_BODY)
    .option('--otlp <url>', 'send OpenTelemetry spans (OTLP/HTTP) of the session to this collector (default: $OTEL_EXPORTER_OTLP_ENDPOINT when set)')
    .option('--otlp-payloads', 'put tool arguments and results (redacted as stored) on the exported spans')
    .passThroughOptions()
    .addHelpText('after', examples(
      'mcptap wrap -- npx -y @modelcontextprotocol/server-everything stdio',
      'claude mcp add db -- mcptap wrap --label db -- npx some-server --flag',
      'mcptap wrap --db ./db.db --label fs -- node server.js   # the child\'s exit code is mcptap\'s',
      'mcptap wrap --otlp http://127.0.0.1:4318 -- node server.js   # spans to Jaeger or any OTLP collector',
    ))
    .action(async (argv: string[], opts: WrapCliOptions) => {
      // Not the common action(): the exit code is the child's, and anything of ours goes to stderr only.
      try {
        const otlp = resolveOtlp(opts.otlp);
        const code = await runWrap({ command: argv[0], args: argv.slice(1), db: resolveDb(opts.db), label: opts.label ?? null, redact: opts.redact, maxBody: opts.maxBody, otlp, otlpPayloads: opts.otlpPayloads });
        process.exit(code);
      } catch (err) {
        fail(err);
        process.exit(process.exitCode ?? 2);
      }
    });
}
