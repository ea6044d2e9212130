import type { Command } from 'commander';
import { EXIT } from '../errors.js';
import { filteredSeqs } from '../store/filtered.js';
import { TurnReader } from '../store/turns-read.js';
import { parseFilter } from '../analysis/filter.js';
import { action, dbOption, examples, openStore, parseIntOption, printJson, printText } from './common.js';
import { arrow, clockTime, pad, summary } from './format.js';
import { FILTER_HELP } from './show.js';

export function registerSearch(program: Command): void {
  program
    .command('search')
    .description('find messages across every session, with the filter language of the timeline (plain words also find model turns\' tool results)')
    .argument('<terms...>', `what to find: ${FILTER_HELP}`)
    .addOption(dbOption())
    .option('--json', 'print [{ session, seq, … }] as JSON')
    .option('--limit <n>', 'stop after N messages', parseIntOption('--limit', 1, 1_000_000), 200)
    .addHelpText('after', examples(
      'mcptap search "No such tool"',
      'mcptap search tool:query kind:error',
      "mcptap search 'status:>=400' --json | jq -r '.[].session' | sort -u",
    ) + 'Exit 0 when something matched, 1 when nothing did.\n')
    .action(action((terms: string[], opts: { db?: string; json?: boolean; limit: number }) => {
      const store = openStore(opts.db);
      try {
        const found: Array<{ session: string; label: string | null; seq: number; ts: string; direction: string; kind: string; method: string | null; subject: string | null; summary: string }> = [];
        const width = process.stdout.isTTY ? Math.max(60, process.stdout.columns ?? 120) : Infinity;
        // Plain words also search what conversations carried back to the model (tool results); field terms are the timeline's.
        const parsed = parseFilter(terms.join(' '));
        const words = parsed.terms.every((t) => t.field === 'text' && !t.negate) ? parsed.terms.map((t) => t.value) : [];
        const turns = new TurnReader(store);
        for (const s of store.listSessions()) {
          if (found.length >= opts.limit) break;
          if (s.transport === 'model-api') {
            for (const r of turns.toolResultsContaining(s.id, words).slice(0, opts.limit - found.length)) {
              const text = `tool_result ${r.toolUseId}${r.isError ? ' (is_error)' : ''}: ${r.text.replace(/\s+/g, ' ')}`;
              found.push({ session: s.id, label: s.label, seq: r.turn, ts: new Date(r.ts).toISOString(), direction: 'client->model', kind: 'tool-result', method: null, subject: r.toolUseId, summary: text });
              if (!opts.json) {
                const head = `${s.id}  turn ${String(r.turn).padStart(3)} ${clockTime(r.ts)} `;
                process.stdout.write(head + (width === Infinity ? text : pad(text, Math.max(10, width - head.length - 1)).trimEnd()) + '\n');
              }
            }
            continue;
          }
          const seqs = [...(filteredSeqs(store, s.id, terms.join(' ')) ?? [])].sort((a, b) => a - b).slice(0, opts.limit - found.length);
          for (const m of seqs.map((q) => store.message(s.id, q)!)) {
            found.push({ session: s.id, label: s.label, seq: m.seq, ts: new Date(m.ts).toISOString(), direction: m.direction, kind: m.kind, method: m.method, subject: m.subject, summary: summary(m) });
            if (!opts.json) {
              const head = `${s.id}  ${String(m.seq).padStart(4)} ${clockTime(m.ts)} ${arrow(m)} ${pad(m.kind, 12)} ${pad(m.method ?? '', 26)} `;
              printText(head + (width === Infinity ? summary(m) : pad(summary(m), Math.max(10, width - head.length - 1)).trimEnd()) + '\n');
            }
          }
        }
        if (opts.json) printJson(found);
        else if (!found.length) process.stderr.write(`no message in ${store.file} matches ${terms.join(' ')}\n`);
        return found.length ? EXIT.ok : EXIT.found;
      } finally {
        store.close();
      }
    }));
}
