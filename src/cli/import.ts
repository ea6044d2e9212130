import fs from 'node:fs';
import type { Command } from 'commander';
import { importRecording, readRecording, readUnsaved, restoreUnsaved } from '../store/jsonl.js';
import { action, dbOption, examples, openStore, printJson, resolveDb } from './common.js';
import { UsageError } from '../errors.js';

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('add a JSONL recording to the capture database as a session (or put back the records a proxy could not write)')
    .argument('<file>', 'a recording written by `mcptap export`, or a .unsaved-….jsonl file a proxy left beside its database')
    .addOption(dbOption())
    .option('--label <text>', 'label for the imported session')
    .option('--json', 'print the imported session as JSON')
    .addHelpText('after', examples('mcptap import recordings/everything-streamable-http.jsonl --label reference', 'mcptap import bug-report.jsonl --db ./triage.db', 'mcptap import ~/.mcptap/captures.db.unsaved-1764580000000.jsonl   # after the database failed'))
    .action(action((file: string, opts: { db?: string; label?: string; json?: boolean }) => {
      const unsaved = readUnsaved(file);
      if (unsaved) {
        const store = openStore(opts.db, { write: true });
        try {
          restoreUnsaved(store, unsaved);
          const counts = { sessions: unsaved.sessions.length, exchanges: unsaved.exchanges.length, messages: unsaved.messages.length };
          if (opts.json) printJson({ restored: counts });
          else process.stdout.write(`put back ${counts.messages} messages, ${counts.exchanges} exchanges and ${counts.sessions} session records from ${file} into ${store.file}\n`);
          return 0;
        } finally {
          store.close();
        }
      }
      const rec = readRecording(file);
      // Imported, a cut recording would pass for the whole session: refused, said.
      if (rec.shortfall) throw new UsageError(rec.shortfall.replace('; what is there is read', '; not imported (get the whole file again)'));
      // A database this import creates and then cannot fill is not left behind, empty.
      const fresh = !fs.existsSync(resolveDb(opts.db));
      const store = openStore(opts.db, { write: true });
      let imported: ReturnType<typeof importRecording>;
      try {
        imported = importRecording(store, rec, { label: opts.label });
      } catch (e) {
        store.close();
        if (fresh) for (const f of ['', '-wal', '-shm']) fs.rmSync(resolveDb(opts.db) + f, { force: true });
        throw e;
      }
      try {
        const { session, renamed } = imported;
        if (opts.json) printJson({ id: session.id, renamed, messages: rec.messages.length, exchanges: rec.exchanges.length });
        else process.stdout.write(`imported ${file} as session ${session.id}${renamed ? ` (its original id ${rec.session.id} was taken)` : ''}: ${rec.messages.length} messages, ${rec.exchanges.length} exchanges\n`);
        return 0;
      } finally {
        store.close();
      }
    }));
}
