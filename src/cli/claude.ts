import { Option, type Command } from 'commander';
import { DEFAULT_ROUTES_PORT } from '../proxy/routes.js';
import { action, examples, parseIntOption } from './common.js';
import { claudeEnv } from './forward.js';

export interface ClaudeOptions {
  scope: 'user' | 'project' | 'local' | 'all';
  server?: string[];
  dryRun?: boolean;
  json?: boolean;
  port?: number;
  env?: string;
  routes?: string;
  project: string;
  db?: string;
}

const scopeOption = () => new Option('--scope <scope>', 'which of Claude Code\'s scopes').choices(['user', 'project', 'local', 'all']).default('all');
const common = (c: Command) => c
  .addOption(scopeOption())
  .option('--server <name...>', 'only these servers (names as in claude mcp list)')
  .option('--project <dir>', 'the project whose .mcp.json and local servers to use', process.cwd())
  .option('--routes <file>', 'the routes file the proxy serves (default: $MCPTAP_ROUTES or ~/.mcptap/routes.json)')
  .option('--json', 'print the result as JSON');

export function registerClaude(program: Command): void {
  const claude = program.command('claude').description("put mcptap in Claude Code's path (every MCP server, and the model API) and take it out again");
  common(claude.command('install').description('rewrite Claude Code\'s MCP servers to go through mcptap (stdio: mcptap wrap; http/sse: the proxy\'s routes)'))
    .option('--dry-run', 'print what would change, change nothing')
    .option('--port <n>', `the port mcptap proxy will serve the routes on (default ${DEFAULT_ROUTES_PORT}, or the one already installed)`, parseIntOption('--port', 1, 65535))
    .option('--env <file>', 'also write ANTHROPIC_BASE_URL for the model API route to this file (to source)')
    .option('--db <file>', 'capture database for the wrapped stdio servers (default: $MCPTAP_DB or ~/.mcptap/captures.db)')
    .addHelpText('after', examples('mcptap claude install && mcptap proxy', 'mcptap claude install --scope user --server github --dry-run', 'mcptap claude install --env ~/.mcptap/env && source ~/.mcptap/env'))
    .action(action(async (opts: ClaudeOptions) => (await actions()).install(opts)));
  common(claude.command('uninstall').description('put back each server exactly as it was before install'))
    .option('--dry-run', 'print what would be restored, change nothing')
    .addHelpText('after', examples('mcptap claude uninstall', 'mcptap claude uninstall --server github'))
    .action(action(async (opts: ClaudeOptions) => (await actions()).uninstall(opts)));
  common(claude.command('status').description('per server: does it go through mcptap, and is the proxy running'))
    .addHelpText('after', examples('mcptap claude status', 'mcptap claude status --json'))
    .action(action(async (opts: ClaudeOptions) => (await actions()).status(opts)));
  claude.command('env').description("print the environment that puts Claude Code, unmodified, behind mcptap proxy --forward")
    .option('--forward', 'HTTPS_PROXY, HTTP_PROXY, NO_PROXY and NODE_EXTRA_CA_CERTS for the forward proxy')
    .option('--port <n>', 'the port of mcptap proxy --forward', parseIntOption('--port', 1, 65535), DEFAULT_ROUTES_PORT)
    .option('--env <file>', 'write the lines to this file (to source) instead of printing them')
    .option('--json', 'print the variables as JSON')
    .addHelpText('after', examples('eval "$(mcptap claude env --forward)" && claude', 'mcptap claude env --forward --port 9000 --env ~/.mcptap/forward.env && source ~/.mcptap/forward.env'))
    .action(action(async (opts: { forward?: boolean; port: number; env?: string; json?: boolean }) => claudeEnv(opts)));
}

/** Loaded when a claude command runs: the JSON and schema libraries stay out of every other command's start. */
const actions = () => import('./claude-actions.js');
