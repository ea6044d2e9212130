import fs from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { isRecordingPath } from '../analysis/input.js';
import { openSession } from './source.js';
import { action, dbOption, examples, openStore, preferInteractive, resolveDb } from './common.js';
import { HoldClient, holdSocketPath } from '../proxy/hold-channel.js';

export function registerTui(program: Command): void {
  program
    .command('tui')
    .description('browse captures in the terminal: sessions, timeline, detail, filter, playback, diff, problems')
    .argument('[session]', 'open this session (id or unique prefix, or a .jsonl recording) directly')
    .addOption(dbOption())
    .option('--reference <session|file>', 'the known-good session or .jsonl recording to diff against (d)')
    .option('--proxy <socket>', 'attach to the hold channel of this running mcptap proxy --hold (default: the one writing --db, if any)')
    .addHelpText('after', examples(
      'mcptap tui                          # live: sessions appear while a proxy captures',
      'mcptap tui 3f2a --reference recordings/everything-streamable-http.jsonl',
      "mcptap proxy --target http://localhost:4000 --hold 'method:tools/call' --db ./c.db &   # then:",
      'mcptap tui --db ./c.db                # h: the held screen; f forward · e edit · a answer · x drop',
    ) + 'Keys: ? shows them all; q quits.\n'
      + 'Beside a running mcptap proxy --hold, the TUI attaches to it (a socket in ~/.mcptap/hold, yours only) and\n'
      + 'decides what it holds as proxy --ui does. The proxy holds only while a TUI is attached: when the last one\n'
      + 'quits (or dies), what is still held is forwarded unchanged.\n')
    .action(action(async (id: string | undefined, opts: { db?: string; reference?: string; proxy?: string }) => {
      const opened = id ? openSession(id, opts.db) : null;
      const store = opened?.store ?? openStore(opts.db);
      try {
        const session = opened?.session;
        if (opts.reference && !isRecordingPath(opts.reference)) store.resolveSession(opts.reference);
        if (!process.stdin.isTTY) throw new UsageError('mcptap tui needs a terminal (stdin is not a TTY)');
        // The engine never imports the UI: it is loaded only when this command runs.
        preferInteractive();
        const hold = await attachHold(opts.proxy, opts.db);
        try {
          const { runTui } = await import('../../ui/run.js');
          return await runTui({
            store, sessionId: session?.id, reference: opts.reference, interceptor: hold ?? undefined,
            notices: hold ? (f) => {
              const gone = () => f('mcptap: the proxy stopped: nothing is held any more');
              hold.on('gone', gone);
              return () => void hold.off('gone', gone);
            } : undefined,
          });
        } finally {
          await hold?.close();
        }
      } finally {
        store.close();
      }
    }));
}

/**
 * The hold channel to attach to: `--proxy SOCKET` (which must answer), else the one of the proxy writing the
 * database, when one runs with --hold; null when none does.
 */
async function attachHold(socket: string | undefined, db: string | undefined): Promise<HoldClient | null> {
  if (socket) return HoldClient.connect(socket);
  const file = holdSocketPath(resolveDb(db));
  if (!fs.existsSync(file)) return null;
  return HoldClient.connect(file).catch(() => null);
}
