import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { diffSessions } from '../analysis/diff.js';
import { isRecordingPath } from '../analysis/input.js';
import { diffJson, type PathDiff } from '../analysis/jsondiff.js';
import { normalize } from '../analysis/normalize.js';
import type { HeaderList, RpcMessage } from '../model/model.js';
import { EXIT, UsageError } from '../errors.js';
import { replaySession } from '../replay/replay.js';
import type { Recording } from '../replay/recording.js';
import { resendPart } from '../replay/resend.js';
import { action, dbOption, examples, parseIntOption, printJson, resolveDb, printText } from './common.js';
import { pad } from './format.js';
import { collectHeader, load, parseSeconds } from './replay.js';

interface ResendCliOptions {
  target?: string;
  edit?: boolean;
  db?: string;
  header?: HeaderList;
  timeout: number;
  insecure?: boolean;
  json?: boolean;
}

export function registerResend(program: Command): void {
  program
    .command('resend')
    .description('send one recorded client message again (edited or not), after the handshake its session made; record it and compare the answer')
    .argument('<session>', 'session id/prefix, or a .jsonl recording')
    .argument('<seq>', 'the message to send: its # in mcptap show', parseIntOption('SEQ', 1, Number.MAX_SAFE_INTEGER))
    .option('--edit', 'open the message in $VISUAL or $EDITOR first, and send what is saved')
    .option('--target <url>', "where to send it (default: the session's own target)")
    .addOption(dbOption())
    .option('--header <line>', "add or replace a request header, e.g. 'Authorization: Bearer …' (repeatable; redacted credentials are not re-sent)", collectHeader)
    .option('--timeout <seconds>', 'how long to wait for each answer', parseSeconds, 10)
    .option('--insecure', 'accept any TLS certificate from an https target')
    .option('--json', 'print { original, resent, request, answer, originalAnswer, diff } as JSON')
    .addHelpText('after', examples(
      'mcptap resend 3f2a 6                                      # #6 again, to the recorded target',
      'mcptap resend 3f2a 6 --edit --target http://localhost:3001',
      "mcptap resend 3f2a 8 --header 'x-litellm-api-key: sk-…'",
    ) + 'The run is recorded as a new session labelled "resend of <id> #<seq>". Exit 0 when the answer matches the original, 1 when not.\n')
    .action(action(async (arg: string, seq: number, opts: ResendCliOptions) => {
      const db = resolveDb(opts.db);
      const rec = load(arg, isRecordingPath(arg) ? null : db);
      const original = rec.messages.find((m) => m.seq === seq);
      const edited = opts.edit && original ? editInEditor(original) : undefined;
      const part = resendPart(rec, seq, edited);
      const sent = part.messages.find((m) => m.seq === seq)!;
      const outcome = await resend(part, sent, { ...opts, db, target: opts.target ?? rec.session.target });
      const { report, answer, was, session } = outcome;
      // The verdict is the answer's: what else the server sent in the new session is shown, not judged.
      const differences = answerDifferences(was, answer);
      if (opts.json) {
        printJson({ original: rec.session.id, resent: session, request: parse(sent.payload), answer: answer ? parse(answer.payload) : null, originalAnswer: was ? parse(was.payload) : null, same: differences.length === 0, differences, sessionDiff: report.verdict });
      } else {
        const lines = [`resent #${seq} ${sent.method} of ${rec.session.id} to ${opts.target ?? rec.session.target} as session ${session}${edited != null ? ' (edited)' : ''}`, ''];
        lines.push(...beside(was ? `original answer #${was.seq}` : 'original: no answer', was, answer ? `answer now #${answer.seq}` : 'now: no answer', answer), '');
        lines.push(differences.length ? `the answer differs (${differences.length}):` : 'the answer is the same (ids, session ids, UUIDs and times aside)');
        for (const d of differences.slice(0, 20)) lines.push(`  ${d.path.replace(/^\$\./, '')}: ${d.change === 'changed' ? `${JSON.stringify(d.a)} → ${JSON.stringify(d.b)}` : d.change === 'added' ? `only now ${JSON.stringify(d.b)}` : `only before ${JSON.stringify(d.a)}`}`);
        lines.push('', `the whole session against the original: ${report.verdict} (mcptap diff ${rec.session.id} ${session})`);
        printText(lines.join('\n') + '\n');
      }
      return differences.length ? EXIT.found : EXIT.ok;
    }));
}

/** The JSON-path differences of two answers, after the normalisation diff uses; an answer missing on one side is one. */
function answerDifferences(was: RpcMessage | null, now: RpcMessage | null): PathDiff[] {
  if (!was || !now) return was === now ? [] : [{ path: '$', change: was ? 'removed' : 'added', a: was ? parse(was.payload) : undefined, b: now ? parse(now.payload) : undefined }];
  return diffJson(normalize(parse(was.payload)), normalize(parse(now.payload)));
}

/** Replays the part, records it, and finds the two answers to the message sent. */
export async function resend(part: Recording, sent: RpcMessage, opts: { target: string; db: string; header?: HeaderList; timeout?: number; insecure?: boolean; onWarning?: (m: string) => void }) {
  const result = await replaySession({
    recording: part, target: opts.target, db: opts.db, label: `resend of ${part.session.id} #${sent.seq}`,
    headers: opts.header ?? [], timeoutMs: (opts.timeout ?? 10) * 1000, insecure: opts.insecure,
    onWarning: opts.onWarning ?? ((m) => process.stderr.write(`mcptap: warning: ${m}\n`)),
    onWaiting: opts.onWarning ?? ((m) => process.stderr.write(`mcptap: ${m}\n`)),
    stopOnRefusedHandshake: true,
  });
  if (!result.session) throw new UsageError(`nothing was captured while resending to ${opts.target}`);
  const now = load(result.session.id, opts.db);
  const request = [...now.messages].reverse().find((m) => m.direction === 'client->server' && m.method === sent.method && m.kind === sent.kind);
  const answer = request?.correlatedSeq != null ? now.messages.find((m) => m.seq === request.correlatedSeq) ?? null : null;
  const was = sent.correlatedSeq != null ? part.messages.find((m) => m.seq === sent.correlatedSeq) ?? null : null;
  return { session: result.session.id, answer, was, report: diffSessions(part, now) };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The message's JSON in the user's editor; what they save is what is sent. */
export function editInEditor(m: RpcMessage): string {
  return editText(JSON.stringify(parse(m.payload), null, 2) + '\n', `message-${m.seq}.json`);
}

/** `text` in the user's editor, as the file `name`; what they save comes back. */
export function editText(text: string, name: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-edit-')), name);
  fs.writeFileSync(file, text, { mode: 0o600 });
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  try {
    // Through the shell: EDITOR is often a command with arguments ("code --wait").
    const r = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'mcptap-editor', file], { stdio: 'inherit' });
    if (r.status !== 0) throw new UsageError(`the editor (${editor}) exited with ${r.status ?? r.signal}; nothing was sent`);
    return fs.readFileSync(file, 'utf8');
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

/** Two answers side by side on a wide terminal, one after the other otherwise (or when piped). */
function beside(titleA: string, a: RpcMessage | null, titleB: string, b: RpcMessage | null): string[] {
  const lines = (m: RpcMessage | null) => (m ? JSON.stringify(parse(m.payload), null, 2).split('\n') : []);
  const la = lines(a);
  const lb = lines(b);
  const width = process.stdout.isTTY ? process.stdout.columns ?? 80 : 0;
  if (width < 100) return [titleA, ...la.map((l) => '  ' + l), '', titleB, ...lb.map((l) => '  ' + l)];
  const col = Math.floor((width - 3) / 2);
  const out = [`${pad(titleA, col)} │ ${titleB}`];
  for (let i = 0; i < Math.max(la.length, lb.length); i++) out.push(`${pad(la[i] ?? '', col)} │ ${lb[i] ?? ''}`.slice(0, width));
  return out;
}
