import type { Command } from 'commander';
import { diffSessions, type DiffReport } from '../analysis/diff.js';
import { isRecordingPath, loadDiffInput } from '../analysis/input.js';
import { renderDiffText } from '../analysis/render.js';
import type { HeaderList } from '../model/model.js';
import { EXIT, UsageError } from '../errors.js';
import { replaySession, type ReplayTransport } from '../replay/replay.js';
import type { Recording } from '../replay/recording.js';
import { CaptureStore } from '../store/read.js';
import { parseTarget } from '../proxy/target.js';
import { action, dbOption, examples, printJson, resolveDb, printText, warn } from './common.js';

interface ReplayCliOptions {
  target?: string;
  transport?: ReplayTransport;
  endpoint?: string;
  timing: 'wait' | 'original';
  db?: string;
  header?: HeaderList;
  timeout: number;
  ignore?: string[];
  insecure?: boolean;
  json?: boolean;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description("re-send a recorded session's client side to a live server, record the run, and diff it against the original")
    .argument('<session>', 'session id/prefix, or a .jsonl recording')
    .option('--target <url>', 'server origin with optional path prefix; recorded paths are appended (http://localhost:4000 + /mcp); default: the server it was recorded against (a forwarded recording: its real host)')
    .option('--transport <t>', 'http, sse or ws (default: the recorded transport)', parseTransport)
    .option('--endpoint <path>', "the MCP endpoint's path on the target, instead of the recorded one (e.g. /mcp/ for LiteLLM, /mcp for a FastMCP server)", parseEndpoint)
    .option('--timing <mode>', "'wait' sends each message once the server has sent what it sent before it; 'original' keeps the recorded pacing", parseTiming, 'wait')
    .addOption(dbOption())
    .option('--header <line>', "add or replace a request header, e.g. 'Authorization: Bearer …' (repeatable; redacted credentials are not re-sent)", collectHeader)
    .option('--timeout <seconds>', 'how long to wait for each thing the recorded server sent', parseSeconds, 10)
    .option('--ignore <path...>', 'JSON paths that are not differences in the diff (repeatable)')
    .option('--insecure', 'accept any TLS certificate from an https target')
    .option('--json', 'print { original, replay, sent, answered, missing, diff } as JSON')
    .addHelpText('after', examples(
      'mcptap replay 3f2a --target http://localhost:4000',
      'mcptap replay 3f2a   # against the server it was recorded against (proxy --forward: the real https:// host)',
      'mcptap replay reference.jsonl --target http://localhost:3001 --transport sse',
      "mcptap replay 3f2a --target https://gateway.example.com/mcp-proxy --header 'x-litellm-api-key: sk-…' --timing original",
      "mcptap replay 3f2a --target http://localhost:4000 --endpoint /mcp/db_main --header 'Authorization: Bearer sk-1234'   # a direct session, now through LiteLLM",
    ) + 'Tools the target lists under another name (a gateway\'s server prefix added or gone) are called by that name.\n' +
    'The run is recorded as a new session labelled "replay of <id>". Exit 0 when it matches the original, 1 when not.\n')
    .action(action(async (arg: string, opts: ReplayCliOptions) => {
      const db = resolveDb(opts.db);
      const recording = load(arg, isRecordingPath(arg) ? null : db);
      const target = opts.target ?? recordedTarget(recording);
      const warnings: string[] = [];
      const result = await replaySession({
        recording, target, transport: opts.transport, endpoint: opts.endpoint, timing: opts.timing, db,
        headers: opts.header ?? [], timeoutMs: opts.timeout * 1000, insecure: opts.insecure,
        onWarning: (m) => {
          warnings.push(m);
          if (!opts.json) process.stderr.write(`mcptap: warning: ${m}\n`);
        },
        onWaiting: (m) => process.stderr.write(`mcptap: ${m}\n`),
      });
      if (!result.session) throw new UsageError(`nothing was captured while replaying to ${target}`);
      const replayed = load(result.session.id, db);
      const report = diffSessions(recording, replayed, { ignore: opts.ignore });
      if (opts.json) {
        printJson({ original: recording.session.id, replay: result.session.id, sent: result.sent, answered: result.answered, missing: result.missing, renamed: result.renamed, warnings, diff: summary(report) });
      } else {
        const lines = [`replayed ${recording.session.id} to ${target} as session ${result.session.id} (${result.sent} steps sent, ${result.answered} server requests answered from the recording)`];
        for (const m of result.missing) lines.push(`  never came: ${m}`);
        if (result.renamed.length) lines.push(`  called under the names the target lists: ${result.renamed.map((r) => `${r.from} → ${r.to}`).join(', ')}`);
        printText(lines.join('\n') + '\n\n' + renderDiffText(report));
      }
      return report.equivalent ? EXIT.ok : EXIT.found;
    }));
}

/**
 * Where a recording replays without --target: the server it was recorded against, when that is an http(s) URL
 * (the proxy's --target, or the real host of a forwarded session); a stdio command or a proxy with several
 * routes names none.
 */
function recordedTarget(rec: Recording): string {
  const t = rec.session.target;
  if (/^https?:\/\//i.test(t)) {
    try {
      return parseTarget(t).display;
    } catch {
      // Not a URL the proxy can reach: asked for below.
    }
  }
  throw new UsageError(`give --target: session ${rec.session.id} was recorded against '${t.slice(0, 80)}', not a server URL to send it to again`);
}

/** A session from the database (when given) or a recording file, read whole. */
export function load(arg: string, db: string | null): Recording {
  const store = db ? CaptureStore.open(db, { readonly: true }) : null;
  try {
    return loadDiffInput(arg, store, warn);
  } finally {
    store?.close();
  }
}

/** The report without whole messages: sequence numbers, methods and JSON-path differences. */
function summary(r: DiffReport): unknown {
  const { pairs, changes, ...rest } = r;
  const brief = (p: DiffReport['pairs'][number]) => ({
    status: p.status, aSeq: p.a?.seq ?? null, bSeq: p.b?.seq ?? null, method: (p.a ?? p.b)?.method ?? null,
    paths: p.paths, responsePaths: p.response?.paths ?? [],
  });
  return { ...rest, changes: changes.map(brief), pairs: pairs.filter((p) => p.status !== 'same').map(brief) };
}

function parseTransport(v: string): ReplayTransport {
  if (v === 'http' || v === 'sse' || v === 'ws') return v;
  throw new UsageError(`--transport must be http, sse or ws (got '${v}')`);
}

function parseEndpoint(v: string): string {
  if (!/^\/[^\s?#]*$/.test(v)) throw new UsageError(`--endpoint takes a path such as /mcp/ (got '${v}')`);
  return v;
}

function parseTiming(v: string): 'wait' | 'original' {
  if (v === 'wait' || v === 'original') return v;
  throw new UsageError(`--timing must be wait or original (got '${v}')`);
}

export function parseSeconds(v: string): number {
  const n = Number(v);
  if (!/^\d*\.?\d+$/.test(v.trim()) || !(n > 0)) throw new UsageError(`--timeout must be a positive number of seconds (got '${v}')`);
  return n;
}

export function collectHeader(v: string, list: HeaderList = []): HeaderList {
  const i = v.indexOf(':');
  const name = i > 0 ? v.slice(0, i).trim() : '';
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`--header takes 'Name: value' (got '${v}')`);
  return [...list, [name, v.slice(i + 1).trim()]];
}
