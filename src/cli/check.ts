import type { Command } from 'commander';
import { DEFAULT_SLOW_MS, RULES } from '../analysis/checks/engine.js';
import { checkFindings } from '../analysis/checks/error-count.js';
import { TurnReader } from '../store/turns-read.js';
import { DEFAULT_TOOLS_SHARE } from '../analysis/checks/context-rules.js';
import type { Session } from '../model/model.js';
import { formatJson, formatJunit, formatSarif, formatText, type SessionFindings } from '../analysis/checks/format.js';
import { EXIT, UsageError } from '../errors.js';
import { isRecordingPath, loadDiffInput } from '../analysis/input.js';
import { action, dbOption, examples, openStore, parseIntOption, printText, warn } from './common.js';
import { terminalSafe } from '../model/terminal.js';

const FORMATS = { text: formatText, json: formatJson, sarif: formatSarif, junit: formatJunit } as const;

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('name what went wrong in captured sessions, with the evidence and the fix')
    .argument('[sessions...]', 'session ids or unique prefixes, or .jsonl recordings (default: the last run, the newest conversation with the MCP sessions it used)')
    .addOption(dbOption())
    .option('--all', 'check every session in the database')
    .option('--format <format>', 'text, json, sarif or junit', 'text')
    .option('--slow <ms>', 'report tool calls slower than this', parseIntOption('--slow', 1, 86_400_000), DEFAULT_SLOW_MS)
    .option('--tools-share <percent>', 'tools-context-cost: warn when MCP tool definitions take more than this % of a model request', parseIntOption('--tools-share', 1, 100), 100 * DEFAULT_TOOLS_SHARE)
    .addHelpText('after', examples(
      'mcptap check                     # the last run: the newest conversation and its MCP sessions',
      'mcptap check 3f2a 9c1b',
      'mcptap check --all --format sarif > mcptap.sarif',
      'mcptap check --all --format junit > mcptap-junit.xml',
      'mcptap check 9c1d --tools-share 10   # warn when MCP tools take over 10% of a model request',
    ) + `Exit 1 when any error-severity finding exists (a CI gate). Each finding is a cause; what it explains is folded under it
(+N consequences; "caused" in --json, relatedLocations in SARIF), and causes come in this order: reachability,
transport, access, session, protocol, tools, the rest.\n\nRules (the cause they name):\n${RULES.map((r) => `  ${r.id.padEnd(19)} (${r.cause ?? 'other'}) ${r.description}`).join('\n')}\n`)
    .action(action((ids: string[], opts: { db?: string; all?: boolean; format: string; slow: number; toolsShare: number }) => {
      const format = FORMATS[opts.format as keyof typeof FORMATS];
      if (!format) throw new UsageError(`--format must be text, json, sarif or junit (got '${opts.format}')`);
      if (opts.all && ids.length) throw new UsageError('give session ids or --all, not both');
      // Recordings are read from their files; the database is opened only for session ids.
      const store = opts.all || !ids.length || ids.some((id) => !isRecordingPath(id)) ? openStore(opts.db) : null;
      try {
        const turns = store ? new TurnReader(store) : null;
        const last = store && turns && !opts.all && !ids.length ? turns.lastRun() : null;
        const inputs = store && (opts.all || !ids.length)
          ? (opts.all ? store.listSessions() : last!.sessions).map((s) => loadDiffInput(s.id, store, warn))
          : ids.map((id) => loadDiffInput(id, store, warn));
        if (!inputs.length) throw new UsageError(`no sessions in ${store?.file} yet`);
        // Say what "the last run" was, so a clean verdict is not read as one about other sessions.
        if (last) (opts.format === 'text' ? process.stdout : process.stderr).write(lastRunLine(last) + '\n');
        const all: SessionFindings[] = inputs.map((input) => ({
          session: input.session,
          findings: checkFindings(input, turns, { slowMs: opts.slow, toolsShare: opts.toolsShare / 100 }),
        }));
        process.stdout.write(opts.format === 'text' ? terminalSafe(format(all)) : format(all));
        return all.some((s) => s.findings.some((f) => f.severity === 'error')) ? EXIT.found : EXIT.ok;
      } finally {
        store?.close();
      }
    }));
}

/** One line naming the sessions of the last run. */
function lastRunLine(run: { conversation: Session | null; sessions: Session[] }): string {
  const mcp = run.sessions.filter((s) => s !== run.conversation);
  const names = mcp.map((s) => `${s.id} (${s.transport})`).join(', ');
  if (!run.conversation) return `Checked the newest session, ${names} (mcptap check --all checks every session).`;
  return `Checked the last run: conversation ${run.conversation.id}${mcp.length ? ` and the MCP session${mcp.length > 1 ? 's' : ''} it used, ${names}` : ', no MCP session around it'} (mcptap check --all checks every session).`;
}
