import type { RpcMessage, Session } from '../model/model.js';
import type { CaptureStore } from '../store/read.js';
import { UsageError } from '../errors.js';
import { matches, parseFilter } from '../analysis/filter.js';
import { checkFindings, errorCauses, withErrors } from '../analysis/checks/error-count.js';
import { loadDiffInput } from '../analysis/input.js';
import { requestFacts } from '../analysis/requests.js';
import { sessionStreams } from '../analysis/streams.js';
import { summary, sessionRowJson } from '../cli/format.js';
import { conversationJson } from '../cli/conversation-format.js';
import { requestsJson, streamsJson } from '../cli/streams-format.js';
import { TurnReader } from '../store/turns-read.js';
import { ContextCostReader } from '../store/context-read.js';
import { serverCostLines } from '../analysis/context-cost.js';
import { isLive } from '../store/liveness.js';
import { describeGateway } from '../capture/gateway.js';
import { capStrings, fitPage, type Page } from './bounded.js';

// What each tool of `mcptap mcp` answers, read from the capture database: plain JSON, bounded by
// bounded.ts. Bad arguments throw UsageError, which the server turns into a tool error.

export interface PageArgs {
  cursor?: string;
  limit?: number;
  maxBytes: number;
}

const DAY_MS = 86_400_000;

/** `since`: an ISO time, or an age like 30m, 2h, 1d. */
export function parseSince(v: string, now = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(v.trim());
  if (m) return now - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`since must be an ISO time or an age like 30m, 2h, 1d (got '${v}')`);
  return t;
}

function offsetCursor(cursor: string | undefined): number {
  if (cursor == null || cursor === '') return 0;
  if (!/^\d{1,9}$/.test(cursor)) throw new UsageError(`cursor '${cursor}' is not one this tool gave (give the 'more' value of the previous answer)`);
  return Number(cursor);
}

/** A list already filtered, paged by offset. */
function pageByOffset<T>(all: T[], args: PageArgs, dflt: number, envelope: unknown = null): Page<T> & { total: number } {
  const from = offsetCursor(args.cursor);
  const limit = args.limit ?? dflt;
  const slice = all.slice(from, from + limit);
  const idx = new Map(slice.map((x, i) => [x, from + i]));
  const page = fitPage(slice, args.maxBytes, (x) => String(idx.get(x)), from + limit < all.length ? String(from + limit) : null, envelope);
  return { ...page, total: all.length };
}

export interface SessionFilters {
  client?: string;
  server?: string;
  transport?: string;
  errorsOnly?: boolean;
  since?: string;
}

export function listSessions(store: CaptureStore, f: SessionFilters, args: PageArgs) {
  const since = f.since ? parseSince(f.since) : null;
  const has = (v: string | null | undefined, want: string | undefined) => !want || (v ?? '').toLowerCase().includes(want.toLowerCase());
  const spans = store.spans();
  // Newest first: the question is nearly always about the last run.
  // errorsOnly and errorCount: the error root causes `mcptap check` gives each session.
  const all = withErrors(store, store.listSessions()).reverse().filter((s) =>
    has(s.clientInfo?.name, f.client)
    && (has(s.serverInfo?.name, f.server) || has(s.target, f.server) || has(s.label, f.server) || has(describeGateway(s.gateway), f.server))
    && (!f.transport || s.transport === f.transport) && (!f.errorsOnly || s.errorCount > 0) && (since == null || s.startedAt >= since))
    .map((s) => ({ ...sessionRowJson(s, spans.get(s.id)), live: isLive(s, spans.get(s.id)) }));
  // `server` also matches the upstream behind a gateway ("via litellm → db_main").
  return pageByOffset(all, args, 50);
}

/** `_meta` objects folded to their keys (a 2026-07-28 request repeats the client's identity in every one). */
export function foldMeta(v: unknown, depth = 0): unknown {
  if (depth > 40 || v == null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => foldMeta(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = k === '_meta' && x && typeof x === 'object' && !Array.isArray(x) ? { folded: Object.keys(x) } : foldMeta(x, depth + 1);
  }
  return out;
}

function messageJson(m: RpcMessage, unfoldMeta: boolean): { seq: number } & Record<string, unknown> {
  let payload: unknown = m.payload;
  if (m.kind !== 'non-json' && !m.truncated) {
    try { payload = JSON.parse(m.payload); } catch { /* stored raw */ }
  }
  return capStrings({
    seq: m.seq, ts: new Date(m.ts).toISOString(), direction: m.direction, kind: m.kind, id: m.rpcId, method: m.method,
    summary: summary(m), latencyMs: m.latencyMs == null ? null : Math.round(m.latencyMs), ...(m.isError ? { isError: true } : {}),
    payload: unfoldMeta ? payload : foldMeta(payload), ...(m.truncated ? { truncated: true } : {}),
  }) as { seq: number } & Record<string, unknown>;
}

/** The seqs a filter keeps in one session, or null for no filter; a filter that does not parse is a usage error. */
function filterSeqs(store: CaptureStore, sessionId: string, filter: string | undefined): Set<number> | null {
  if (!filter?.trim()) return null;
  const parsed = parseFilter(filter);
  if (parsed.errors.length) throw new UsageError(`filter: ${parsed.errors[0]}`);
  const hits = new Map<string, Set<number>>();
  for (const t of parsed.terms) if (t.field === 'text' && !hits.has(t.value)) hits.set(t.value, new Set(store.seqsContaining(sessionId, t.value)));
  return new Set(store.filterRows(sessionId).filter((r) => matches(r, parsed.terms, hits)).map((r) => r.seq));
}

function seqCursor(cursor: string | undefined): number {
  if (cursor == null || cursor === '') return 1;
  if (!/^\d{1,12}$/.test(cursor)) throw new UsageError(`cursor '${cursor}' is not one this tool gave (give the 'more' value of the previous answer)`);
  return Number(cursor);
}

export function showSession(store: CaptureStore, id: string, opts: { filter?: string; unfoldMeta?: boolean }, args: PageArgs) {
  const [s] = withErrors(store, [store.resolveSession(id)]);
  if (s.transport === 'model-api') return { session: sessionRowJson(s), note: 'a model conversation: use the conversation tool', messages: [], more: null };
  const keep = filterSeqs(store, s.id, opts.filter);
  const limit = args.limit ?? 50;
  const from = seqCursor(args.cursor);
  let picked: RpcMessage[] = [];
  let next: number | null = null;
  if (keep) {
    // Only the matching messages are read, one by one: a filter over a long session reads no other payload.
    const seqs = [...keep].filter((q) => q >= from).sort((a, b) => a - b);
    picked = seqs.slice(0, limit).map((q) => store.message(s.id, q)).filter((m): m is RpcMessage => m != null);
    next = seqs.length > limit ? seqs[limit] : null;
  } else {
    picked = store.messages(s.id, { fromSeq: from, limit: limit + 1 });
    if (picked.length > limit) next = picked.pop()!.seq;
  }
  const items = picked.map((m) => messageJson(m, !!opts.unfoldMeta));
  const row = sessionRowJson(s);
  const page = fitPage(items, args.maxBytes, (m) => String(m.seq), next == null ? null : String(next), row);
  return { session: row, messages: page.items, more: page.more, ...(page.cutByBytes ? { cutByBytes: true } : {}) };
}

export function checkSession(store: CaptureStore, id: string | undefined, opts: { slowMs?: number; toolsShare?: number }, maxBytes: number) {
  const s: Session | undefined = id ? store.resolveSession(id) : store.listSessions({ limit: 1 })[0];
  if (!s) throw new UsageError(`no sessions in ${store.file} yet`);
  const findings = checkFindings(loadDiffInput(s.id, store), new TurnReader(store), { slowMs: opts.slowMs, toolsShare: opts.toolsShare });
  const row = sessionRowJson({ ...s, errorCount: errorCauses(findings) });
  const page = fitPage(findings.map((f) => capStrings(f) as typeof f), maxBytes, (f) => f.ruleId, null, row);
  return {
    session: row, verdict: findings.length ? `${findings.filter((f) => f.severity === 'error').length} errors, ${findings.filter((f) => f.severity === 'warning').length} warnings, ${findings.filter((f) => f.severity === 'info').length} notes` : 'no findings',
    findings: page.items, ...(page.cutByBytes ? { cutByBytes: true, note: `findings after '${page.more}' were left out by the byte cap; raise maxBytes` } : {}),
  };
}

export function conversation(store: CaptureStore, id: string, args: PageArgs) {
  const [s] = withErrors(store, [store.resolveSession(id)]);
  if (s.transport !== 'model-api') throw new UsageError(`${s.id} is an MCP session (${s.transport}), not a model conversation: use show_session`);
  const reader = new TurnReader(store);
  const conv = reader.conversation(s);
  const costs = new ContextCostReader(reader).costs(conv.turns);
  const json = conversationJson(conv, costs);
  const turns = json.turns.map((t) => capStrings(t) as typeof t);
  const summary = costs[0] ? serverCostLines(costs[0]) : [];
  const page = pageByOffset(turns, args, 20, { s: json.session, summary });
  return {
    session: json.session,
    contextSummary: summary,
    turns: page.items, more: page.more, totalTurns: page.total, ...(page.cutByBytes ? { cutByBytes: true } : {}),
  };
}

export function streams(store: CaptureStore, id: string, maxBytes: number) {
  const [s] = withErrors(store, [store.resolveSession(id)]);
  const all = [...store.iterateMessages(s.id)];
  const exchanges = store.exchanges(s.id);
  const recorded = store.streams(s.id);
  const requests = requestFacts(s, all, exchanges, recorded);
  const views = sessionStreams(s, all, exchanges, recorded, requests);
  const inFlight = requestsJson(requests.filter((r) => !r.answer)) as Array<{ seq: number }>;
  const row = sessionRowJson(s);
  const half = Math.floor((maxBytes - Buffer.byteLength(JSON.stringify(row), 'utf8')) / 2);
  const st = fitPage(streamsJson(views), half, (_x) => '', null);
  const rq = fitPage(inFlight, half, (r) => String(r.seq), null);
  return {
    session: row, streams: st.items, requestsUnanswered: rq.items,
    ...(st.cutByBytes || rq.cutByBytes ? { cutByBytes: true, note: 'some streams or requests were left out by the byte cap; raise maxBytes or use show_session' } : {}),
  };
}

/** The filter language across sessions, newest session first; the cursor is `session:seq`. */
export function search(store: CaptureStore, filter: string, args: PageArgs) {
  if (!filter.trim()) throw new UsageError('filter is empty: give terms like kind:error or tool:query');
  const limit = args.limit ?? 50;
  let [fromSession, fromSeq] = [null as string | null, 0];
  if (args.cursor) {
    const m = /^([0-9a-z-]+):(\d+)$/.exec(args.cursor);
    if (!m) throw new UsageError(`cursor '${args.cursor}' is not one this tool gave (give the 'more' value of the previous answer)`);
    [fromSession, fromSeq] = [m[1], Number(m[2])];
  }
  const sessions = store.listSessions().reverse();
  let i = fromSession ? sessions.findIndex((s) => s.id === fromSession) : 0;
  if (i < 0) throw new UsageError(`cursor '${args.cursor}' names a session that is gone`);
  const found: Array<Record<string, unknown> & { cursor: string }> = [];
  let more: string | null = null;
  for (; i < sessions.length && !more; i++) {
    const s = sessions[i];
    if (s.transport === 'model-api') continue;
    const seqs = [...(filterSeqs(store, s.id, filter) ?? [])].filter((q) => s.id !== fromSession || q >= fromSeq).sort((a, b) => a - b);
    for (const q of seqs) {
      if (found.length >= limit) { more = `${s.id}:${q}`; break; }
      const m = store.message(s.id, q);
      if (m) found.push({ session: s.id, cursor: `${s.id}:${q}`, ...messageJson(m, false) });
    }
  }
  const page = fitPage(found, args.maxBytes, (x) => x.cursor, more);
  return { matches: page.items.map(({ cursor: _c, ...x }) => x), more: page.more, ...(page.cutByBytes ? { cutByBytes: true } : {}) };
}
