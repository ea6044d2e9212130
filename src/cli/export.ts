import type { Command } from 'commander';
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { writeRecording } from '../store/jsonl.js';
import { toHar } from '../store/har.js';
import { action, dbOption, examples, openStore } from './common.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a session as a JSONL recording (for diff, replay, mock, bug reports) or as HAR 1.2')
    .argument('<session>', 'session id or unique id prefix')
    .addOption(dbOption())
    .option('-o, --output <file>', 'write here instead of standard output')
    .option('--format <format>', 'jsonl or har', 'jsonl')
    .addHelpText('after', examples('mcptap export 3f2a -o good.jsonl', 'mcptap export 3f2a --format har -o session.har   # open in browser devtools'))
    .action(action((id: string, opts: { db?: string; output?: string; format: string }) => {
      if (opts.format !== 'jsonl' && opts.format !== 'har') throw new UsageError(`--format must be jsonl or har (got '${opts.format}')`);
      const store = openStore(opts.db);
      try {
        const session = store.resolveSession(id);
        if (opts.format === 'har') {
          const text = JSON.stringify(toHar(store, session.id), null, 2) + '\n';
          if (opts.output) fs.writeFileSync(opts.output, text, { mode: 0o600 });
          else process.stdout.write(text);
        } else writeRecording(store, session.id, opts.output ?? process.stdout);
        if (opts.output) process.stderr.write(`wrote session ${session.id} (${session.messageCount} messages) to ${opts.output}\n`);
        return 0;
      } finally {
        store.close();
      }
    }));
}
