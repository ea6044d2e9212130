import { isLive, sessionLength } from '../store/liveness.js';
import type { Command } from 'commander';
import { action, dbOption, examples, openStore, parseIntOption, printJson, printText } from './common.js';
import { duration, isoTime, pad, sessionRowJson, shortLabel } from './format.js';
import { TurnReader } from '../store/turns-read.js';
import type { Session } from '../model/model.js';

const API_SHORT: Record<string, string> = { 'anthropic-messages': 'anthropic', 'anthropic-count-tokens': 'anthropic', 'openai-chat': 'openai-chat', 'openai-responses': 'responses' };

/** What the sessions list says of a conversation: api, model, turns, tool uses, how many linked, errors. */
function conversationSummary(turns: TurnReader, s: Session) {
  const c = turns.conversation(s);
  const last = c.turns[c.turns.length - 1];
  const uses = c.turns.flatMap((t) => t.toolUses);
  return {
    api: last?.api ?? null, model: last?.model ?? null, turns: c.turns.length, toolUses: uses.length,
    linked: uses.filter((u) => u.mcpCall).length, errors: s.errorCount,
  };
}
import { describeGateway } from '../capture/gateway.js';
import { withErrors } from '../analysis/checks/error-count.js';

export function registerSessions(program: Command): void {
  program
    .command('sessions')
    .description('list captured sessions, oldest first (model-api rows are model conversations: turns, tool uses, how many linked to MCP calls)')
    .addOption(dbOption())
    .option('--json', 'print a JSON array')
    .option('--last <n>', 'only the newest N sessions', parseIntOption('--last', 1, 1_000_000))
    .addHelpText('after', examples('mcptap sessions', 'mcptap sessions --last 5 --json | jq .[0].id'))
    .action(action((opts: { db?: string; json?: boolean; last?: number }) => {
      const store = openStore(opts.db);
      try {
        // ERRS is what `mcptap check ID` counts: the session's error root causes.
        const sessions = withErrors(store, store.listSessions({ limit: opts.last }));
        const spans = store.spans();
        const turns = new TurnReader(store);
        const convs = new Map(sessions.filter((s) => s.transport === 'model-api').map((s) => [s.id, conversationSummary(turns, s)]));
        if (opts.json) {
          printJson(sessions.map((s) => (convs.has(s.id) ? { ...sessionRowJson(s, spans.get(s.id)), conversation: convs.get(s.id) } : sessionRowJson(s, spans.get(s.id)))));
          return 0;
        }
        if (!sessions.length) {
          process.stdout.write(`no sessions in ${store.file} yet\n`);
          return 0;
        }
        const head = `${pad('ID', 12)}  ${pad('LABEL', 12)}  ${pad('TRANSPORT', 15)}  ${pad('CLIENT → SERVER', 34)}  ${pad('PROTOCOL', 10)}  ${'MSGS'.padStart(5)}  ${'ERRS'.padStart(4)}  ${pad('STARTED', 20)}  LENGTH`;
        const lines = [head];
        for (const s of sessions) {
          const c = convs.get(s.id);
          const via = describeGateway(s.gateway);
          const peers = c ? `${c.model ?? '?'} ${c.toolUses} uses, ${c.linked} linked` : via ? `${s.clientInfo?.name ?? '?'} ${via}` : `${s.clientInfo?.name ?? '?'} → ${s.serverInfo?.name ?? '?'}`;
          const span = spans.get(s.id);
          // A stateless session (2026-07-28) whose requests mcptap had to place by guess says so (show tells why).
          const length = `${duration(sessionLength(s, span)) || '0ms'}${isLive(s, span) ? ', live' : ''}${s.grouping?.uncertain ? `, ${s.grouping.guessed} placed by guess` : ''}`;
          lines.push(`${pad(s.id, 12)}  ${shortLabel(s.label, 12)}  ${pad(s.transport, 15)}  ${pad(s.transport === 'http' ? s.target : peers, 34)}  ${pad(c ? API_SHORT[c.api ?? ''] ?? '' : s.protocolVersion ?? '', 10)}  ${String(s.messageCount).padStart(5)}  ${String(s.errorCount).padStart(4)}  ${pad(isoTime(s.startedAt), 20)}  ${length}`);
        }
        printText(lines.join('\n') + '\n');
        return 0;
      } finally {
        store.close();
      }
    }));
}
