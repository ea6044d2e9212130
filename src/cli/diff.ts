import type { Command } from 'commander';
import fs from 'node:fs';
import { diffSessions } from '../analysis/diff.js';
import { isRecordingPath, loadDiffInput } from '../analysis/input.js';
import { renderDiffText } from '../analysis/render.js';
import { diffConversations, loadConversation, renderConversationDiff } from '../analysis/conversation-diff.js';
import { UsageError } from '../errors.js';
import { EXIT } from '../errors.js';
import { CaptureStore } from '../store/read.js';
import { action, dbOption, examples, printJson, resolveDb, printText, warn } from './common.js';

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('compare two sessions (or recordings) message by message, or two model conversations turn by turn (tools offered, tool uses): what changed?')
    .argument('<a>', 'the reference: a session id/prefix, or a .jsonl recording')
    .argument('<b>', 'the session to check: a session id/prefix, or a .jsonl recording')
    .addOption(dbOption())
    .option('--ignore <path...>', 'JSON paths that are not differences, e.g. result.serverInfo.version (repeatable)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', examples(
      'mcptap diff recordings/everything-streamable-http.jsonl 3f2a',
      'mcptap diff 3f2a 9c1b --ignore result.serverInfo.version',
      'mcptap diff good.jsonl bad.jsonl --json | jq .verdict',
    ) + 'Exit 0 when equivalent, 1 when different: usable as a CI gate.\n')
    .action(action((a: string, b: string, opts: { db?: string; ignore?: string[]; json?: boolean }) => {
      const needsDb = !isRecordingPath(a) || !isRecordingPath(b);
      const file = resolveDb(opts.db);
      const store = needsDb || fs.existsSync(file) ? CaptureStore.open(file, { readonly: true }) : null;
      try {
        const ca = loadConversation(a, store);
        const cb = loadConversation(b, store);
        if (ca || cb) {
          // Model conversations compare turn by turn (tools offered, tool uses), not message by message.
          if (!ca || !cb) throw new UsageError('diff compares two MCP sessions or two model conversations, not one of each');
          const d = diffConversations(ca, cb);
          if (opts.json) printJson(d);
          else printText(renderConversationDiff(d));
          return d.equivalent ? EXIT.ok : EXIT.found;
        }
        const report = diffSessions(loadDiffInput(a, store, warn), loadDiffInput(b, store, warn), { ignore: opts.ignore });
        if (opts.json) {
          const { pairs, ...rest } = report;
          printJson({ ...rest, pairs: pairs.map((p) => ({ status: p.status, aSeq: p.a?.seq ?? null, bSeq: p.b?.seq ?? null, method: (p.a ?? p.b)?.method ?? null, paths: p.paths, responsePaths: p.response?.paths ?? [] })), changes: rest.changes.map((p) => ({ aSeq: p.a?.seq, bSeq: p.b?.seq, method: (p.a ?? p.b)?.method, paths: p.paths, responsePaths: p.response?.paths ?? [] })) });
        } else printText(renderDiffText(report));
        return report.equivalent ? EXIT.ok : EXIT.found;
      } finally {
        store?.close();
      }
    }));
}
