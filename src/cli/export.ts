import type { Command } from 'commander';
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { recordingLines, writeRecording } from '../store/jsonl.js';
import { filteredSeqs } from '../store/filtered.js';
import { openSession } from './source.js';
import { FILTER_HELP } from './show.js';
import { toHar } from '../store/har.js';
import { TurnReader } from '../store/turns-read.js';
import { action, dbOption, examples, openStore } from './common.js';
import { resolveOtlp } from '../telemetry/setup.js';
import { exportOtlp } from './export-otlp.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a session as a JSONL recording (for diff, replay, mock, bug reports) or as HAR 1.2, or send sessions to an OpenTelemetry collector')
    .argument('[session]', 'session id or unique id prefix, or a .jsonl recording (to write it as HAR, or filtered)')
    .option('--all', 'with --otlp: every session in the database')
    .option('--otlp <url>', 'send the session(s) as OpenTelemetry spans (OTLP/HTTP, recorded times) to this collector, e.g. http://127.0.0.1:4318')
    .option('--otlp-payloads', 'with --otlp: put tool arguments and results (redacted as stored) on the spans')
    .addOption(dbOption())
    .option('-o, --output <file>', 'write here instead of standard output')
    .option('--format <format>', 'jsonl or har', 'jsonl')
    .option('--filter <terms>', `only the messages that match ${FILTER_HELP} (and the exchanges that carried them)`)
    .addHelpText('after', examples('mcptap export 3f2a -o good.jsonl', "mcptap export 3f2a --filter 'kind:error' -o errors.jsonl", 'mcptap export 3f2a --format har -o session.har   # open in browser devtools',
      'mcptap export --all --otlp http://127.0.0.1:4318   # every recorded session into Jaeger or any OTLP collector',
      'mcptap export run.jsonl --otlp http://127.0.0.1:4318'))
    .action(action(async (id: string | undefined, opts: { db?: string; output?: string; format: string; filter?: string; all?: boolean; otlp?: string; otlpPayloads?: boolean }) => {
      if (opts.otlp != null || opts.all) {
        if (opts.otlp == null) throw new UsageError('--all is for --otlp (a JSONL or HAR export is one session)');
        if (opts.all && id) throw new UsageError('give a session or --all, not both');
        if (!opts.all && !id) throw new UsageError('give a session (id, prefix or .jsonl) or --all');
        const otlp = resolveOtlp(opts.otlp)!;
        const src = opts.all ? { store: openStore(opts.db), session: null } : openSession(id!, opts.db);
        try {
          const sessions = src.session ? [src.session] : src.store.listSessions();
          if (!sessions.length) throw new UsageError(`no sessions in ${src.store.file} yet`);
          return await exportOtlp(src.store, sessions, otlp, !!opts.otlpPayloads);
        } finally {
          src.store.close();
        }
      }
      if (!id) throw new UsageError('give a session id, prefix or .jsonl recording');
      if (opts.format !== 'jsonl' && opts.format !== 'har') throw new UsageError(`--format must be jsonl or har (got '${opts.format}')`);
      const { store, session } = openSession(id, opts.db);
      try {
        const keep = filteredSeqs(store, session.id, opts.filter);
        // Filtered: the matching messages, and the exchanges that carried them.
        const messages = [...store.iterateMessages(session.id)].filter((m) => !keep || keep.has(m.seq));
        const carried = keep ? new Set(messages.map((m) => m.exchangeId).filter((x): x is string => x != null)) : undefined;
        if (opts.format === 'har') {
          const text = JSON.stringify(toHar(store, session.id, carried), null, 2) + '\n';
          if (opts.output) fs.writeFileSync(opts.output, text, { mode: 0o600 });
          else process.stdout.write(text);
        } else if (!keep) writeRecording(store, session.id, opts.output ?? process.stdout);
        else {
          const exchanges = store.exchanges(session.id).filter((e) => carried!.has(e.id));
          // The header counts what this file holds: a reader takes fewer records than announced for a cut file.
          const text = recordingLines({ session: { ...session, messageCount: messages.length, exchangeCount: exchanges.length }, exchanges, messages }).join('\n') + '\n';
          if (opts.output) fs.writeFileSync(opts.output, text, { mode: 0o600 });
          else process.stdout.write(text);
        }
        // A conversation is turns, not MCP messages: it has none of those.
        const count = session.transport === 'model-api' ? `${new TurnReader(store).turns(session.id).length} turns` : `${messages.length} messages`;
        if (opts.output) process.stderr.write(`wrote session ${session.id} (${count}) to ${opts.output}\n`);
        return 0;
      } finally {
        store.close();
      }
    }));
}
