import type { Command } from 'commander';
import { importRecording, readRecording } from '../store/jsonl.js';
import { action, dbOption, examples, openStore, printJson } from './common.js';

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('add a JSONL recording to the capture database as a session')
    .argument('<file>', 'a recording written by `mcptap export`')
    .addOption(dbOption())
    .option('--label <text>', 'label for the imported session')
    .option('--json', 'print the imported session as JSON')
    .addHelpText('after', examples('mcptap import recordings/everything-streamable-http.jsonl --label reference', 'mcptap import bug-report.jsonl --db ./triage.db'))
    .action(action((file: string, opts: { db?: string; label?: string; json?: boolean }) => {
      const rec = readRecording(file);
      const store = openStore(opts.db, { write: true });
      try {
        const { session, renamed } = importRecording(store, rec, { label: opts.label });
        if (opts.json) printJson({ id: session.id, renamed, messages: rec.messages.length, exchanges: rec.exchanges.length });
        else process.stdout.write(`imported ${file} as session ${session.id}${renamed ? ` (its original id ${rec.session.id} was taken)` : ''}: ${rec.messages.length} messages, ${rec.exchanges.length} exchanges\n`);
        return 0;
      } finally {
        store.close();
      }
    }));
}
