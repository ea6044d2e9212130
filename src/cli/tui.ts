import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { isRecordingPath } from '../analysis/input.js';
import { openSession } from './source.js';
import { action, dbOption, examples, openStore, preferInteractive } from './common.js';

export function registerTui(program: Command): void {
  program
    .command('tui')
    .description('browse captures in the terminal: sessions, timeline, detail, filter, playback, diff, problems')
    .argument('[session]', 'open this session (id or unique prefix, or a .jsonl recording) directly')
    .addOption(dbOption())
    .option('--reference <session|file>', 'the known-good session or .jsonl recording to diff against (d)')
    .addHelpText('after', examples(
      'mcptap tui                          # live: sessions appear while a proxy captures',
      'mcptap tui 3f2a --reference recordings/everything-streamable-http.jsonl',
    ) + 'Keys: ? shows them all; q quits.\n')
    .action(action(async (id: string | undefined, opts: { db?: string; reference?: string }) => {
      const opened = id ? openSession(id, opts.db) : null;
      const store = opened?.store ?? openStore(opts.db);
      try {
        const session = opened?.session;
        if (opts.reference && !isRecordingPath(opts.reference)) store.resolveSession(opts.reference);
        if (!process.stdin.isTTY) throw new UsageError('mcptap tui needs a terminal (stdin is not a TTY)');
        // The engine never imports the UI: it is loaded only when this command runs.
        preferInteractive();
        const { runTui } = await import('../../ui/run.js');
        return await runTui({ store, sessionId: session?.id, reference: opts.reference });
      } finally {
        store.close();
      }
    }));
}
