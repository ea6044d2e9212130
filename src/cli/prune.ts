import { LIVE_MS } from '../store/liveness.js';
import fs from 'node:fs';
import type { Command } from 'commander';
import type { Session } from '../model/model.js';
import { UsageError } from '../errors.js';
import { action, dbOption, examples, openStore, printJson, printText } from './common.js';
import { isoTime } from './format.js';

/** A session without an end that saw traffic this recently may still be written by a running proxy. */

/** `30m`, `12h`, `7d`, `2w` → milliseconds. */
export function parseAge(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/i.exec(v.trim());
  if (!m) throw new UsageError(`--older-than takes an age like 30m, 12h, 7d or 2w (got '${v}')`);
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[m[2].toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

const fileBytes = (db: string) => ['', '-wal'].reduce((n, s) => n + (fs.existsSync(db + s) ? fs.statSync(db + s).size : 0), 0);
const size = (n: number) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.ceil(n / 1024)} KB`);

interface PruneOptions {
  db?: string;
  olderThan?: number;
  label?: string;
  all?: boolean;
  dryRun?: boolean;
  vacuum?: boolean;
  json?: boolean;
}

export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description('delete captured sessions (with their messages and exchanges) and give the space back')
    .argument('[sessions...]', 'session ids or unique prefixes')
    .addOption(dbOption())
    .option('--older-than <age>', 'sessions whose last traffic is older than this: 30m, 12h, 7d, 2w', parseAge)
    .option('--label <text>', 'only sessions with this label')
    .option('--all', 'every session')
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--no-vacuum', 'keep the file its size (the space is reused by later captures)')
    .option('--json', 'print what was (or would be) deleted as JSON')
    .addHelpText('after', examples(
      'mcptap prune --older-than 7d              # what last saw traffic a week ago or more',
      'mcptap prune 3f2a 9c1b',
      'mcptap prune --label ci-run --dry-run',
    ) + `
A session without an end that saw traffic in the last minute is left alone: a running proxy would
write it again. Giving the space back rewrites the file; a proxy writing meanwhile waits for it
(and may warn that the database was busy; nothing is lost).
`)
    .action(action((ids: string[], opts: PruneOptions) => {
      if (!ids.length && !opts.all && opts.olderThan == null && opts.label == null) {
        throw new UsageError('say which sessions to delete: ids, --older-than AGE, --label TEXT or --all (see mcptap prune --help)');
      }
      if (ids.length && opts.all) throw new UsageError('give session ids or --all, not both');
      const store = openStore(opts.db, { write: !opts.dryRun });
      try {
        const now = Date.now();
        const activity = store.lastActivity();
        const chosen: Session[] = ids.length ? ids.map((id) => store.resolveSession(id)) : store.listSessions();
        const picked = chosen.filter((s) =>
          (opts.label == null || s.label === opts.label) &&
          (opts.olderThan == null || now - (activity.get(s.id) ?? s.startedAt) > opts.olderThan));
        const live = picked.filter((s) => s.endedAt == null && now - (activity.get(s.id) ?? s.startedAt) < LIVE_MS);
        const doomed = picked.filter((s) => !live.includes(s));
        const before = fileBytes(store.file);
        let counts = { sessions: 0, messages: doomed.reduce((n, s) => n + s.messageCount, 0), exchanges: doomed.reduce((n, s) => n + s.exchangeCount, 0) };
        let after = before;
        let shrunk: boolean | null = null;
        if (!opts.dryRun && doomed.length) {
          // A running proxy writes a batch at a time: wait for the lock here (nothing is forwarded by this process).
          store.db.pragma('busy_timeout = 5000');
          counts = store.deleteSessions(doomed.map((s) => s.id));
          if (opts.vacuum !== false) {
            try {
              store.db.pragma('busy_timeout = 0');
              store.db.exec('VACUUM');
              store.db.pragma('wal_checkpoint(TRUNCATE)');
              shrunk = true;
            } catch {
              // Another connection (a running proxy, a TUI) holds the file: the pages stay free for reuse.
              shrunk = false;
            }
          }
          after = fileBytes(store.file);
        } else counts.sessions = doomed.length;
        if (opts.json) {
          printJson({
            dryRun: !!opts.dryRun, deleted: doomed.map((s) => s.id), skippedLive: live.map((s) => s.id),
            sessions: counts.sessions, messages: counts.messages, exchanges: counts.exchanges, bytesBefore: before, bytesAfter: after,
          });
          return 0;
        }
        for (const s of live) process.stdout.write(`kept ${s.id}: no end and traffic in the last minute (a proxy may still be writing it)\n`);
        if (!doomed.length) {
          process.stdout.write(`nothing to delete in ${store.file}\n`);
          return 0;
        }
        const verb = opts.dryRun ? 'would delete' : 'deleted';
        for (const s of doomed) printText(`${verb} ${s.id}  ${s.label ?? ''}  ${isoTime(s.startedAt)}  ${s.messageCount} messages\n`);
        process.stdout.write(`${verb} ${counts.sessions} session${counts.sessions === 1 ? '' : 's'} (${counts.messages} messages, ${counts.exchanges} exchanges)`);
        if (shrunk === true) process.stdout.write(`; ${store.file} went from ${size(before)} to ${size(after)}\n`);
        else if (shrunk === false) process.stdout.write(`; another process holds ${store.file}, so its size stays (the space is reused; run again with the proxy stopped to shrink it)\n`);
        else process.stdout.write('\n');
        return 0;
      } finally {
        store.close();
      }
    }));
}
