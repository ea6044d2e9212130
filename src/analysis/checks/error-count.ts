import type { Session } from '../../model/model.js';
import type { CaptureStore } from '../../store/read.js';
import { TurnReader } from '../../store/turns-read.js';
import type { DiffInput } from '../diff.js';
import { runChecks } from './engine.js';
import type { CheckOptions, Finding } from './types.js';

// What the sessions list's ERR column, its red colour, `show`'s header and the MCP server's errorsOnly
// count: the error-severity root causes `mcptap check SESSION` reports, the ones that make it exit 1.
// Warnings are not counted (check passes with them), nor consequences folded under a cause, nor symptoms
// the capture saw (a refused probe the client recovered from is no finding, so no error).

/** What `mcptap check` finds in one session read from the store or a recording (a conversation with the MCP sessions around it). */
export function checkFindings(input: DiffInput, turns: TurnReader | null, opts: Partial<CheckOptions> = {}): Finding[] {
  const conversation = turns && input.session.transport === 'model-api' ? turns.context(input.session) : undefined;
  return runChecks({ ...input, conversation }, opts);
}

/** The findings `mcptap check ID` gives for a stored session. */
export function checkStored(store: CaptureStore, session: Session, turns: TurnReader = new TurnReader(store)): Finding[] {
  const input = { session, messages: [...store.iterateMessages(session.id)], exchanges: store.exchanges(session.id), streams: store.streams(session.id) };
  return checkFindings(input, turns);
}

/** Root causes of error severity: check's exit code is 1 when there is one. */
export const errorCauses = (findings: Finding[]): number => findings.filter((f) => f.severity === 'error').length;

/**
 * Each session's traffic as one string that changes whenever anything check reads of it changes: its row,
 * its exchanges (a status or an end arriving), its streams, a conversation's turns. One query for all.
 */
export function changeMarks(store: CaptureStore): Map<string, string> {
  const db = store.db;
  const has = (t: string) => !!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(t);
  const streams = has('streams')
    ? `(SELECT count(*) || ',' || total(events) || ',' || total(bytes) || ',' || total(coalesce(closed_at, 0)) FROM streams t WHERE t.session_id = s.id)`
    : `''`;
  const turns = has('turns')
    ? `(SELECT count(*) || ',' || total(coalesce(ended_at, 0)) || ',' || total(message_count) FROM turns t WHERE t.session_id = s.id)`
    : `''`;
  const rows = db.prepare(`SELECT s.id AS id, s.transport AS transport,
      s.message_count || ',' || s.exchange_count || ',' || coalesce(s.ended_at, '') || ',' || length(coalesce(s.server_info, '')) || ',' || coalesce(s.protocol_version, '') AS own,
      (SELECT count(*) || ',' || total(coalesce(status, 0)) || ',' || total(coalesce(first_byte_at, 0)) || ',' || total(coalesce(ended_at, 0)) || ',' || total(response_bytes) || ',' || total(aborted)
        FROM exchanges e WHERE e.session_id = s.id) AS ex,
      ${streams} AS st, ${turns} AS tu
    FROM sessions s ORDER BY s.started_at`).all() as Array<{ id: string; transport: string; own: string; ex: string; st: string; tu: string }>;
  const out = new Map(rows.map((r) => [r.id, `${r.own}|${r.ex}|${r.st}|${r.tu}`]));
  // A conversation's verdict reads the MCP sessions around it (did they connect, what did they list).
  const mcp = rows.filter((r) => r.transport !== 'model-api').map((r) => `${r.id}:${out.get(r.id)}`).join(';');
  for (const r of rows) if (r.transport === 'model-api') out.set(r.id, `${out.get(r.id)}|${mcp}`);
  return out;
}

interface Counted {
  mark: string;
  errors: number;
  /** When it was computed and what it cost (ms of the clock). */
  at: number;
  cost: number;
}

/**
 * Check's error count per session, for readers that list sessions again and again (the TUI every time the
 * database changes, the MCP server on every call): a session is checked again only when its traffic changed,
 * and one that is costly to check (a long live session) no more often than keeps the checking under a tenth
 * of the time. Until then its last count stands, and `staleFor` says when to ask again.
 */
export class ErrorCounts {
  private readonly cache = new Map<string, Counted>();
  private readonly turns: TurnReader;

  constructor(private readonly store: CaptureStore, private readonly clock: () => number = () => performance.now()) {
    this.turns = new TurnReader(store);
  }

  /**
   * The counts of `sessions`; `staleFor` is the ms until a count held back may be brought up to date (null: all
   * are). `budgetMs`: once this much time went on checks in this call, the rest wait for the next (the TUI runs
   * in the proxy's process with `proxy --ui`: one call never holds the event loop for every row's check); a
   * session never checked yet then has no count.
   */
  counts(sessions: Session[], budgetMs = Infinity): { errors: Map<string, number>; staleFor: number | null } {
    const marks = changeMarks(this.store);
    const errors = new Map<string, number>();
    let staleFor: number | null = null;
    const start = this.clock();
    for (const s of sessions) {
      const mark = marks.get(s.id);
      if (mark == null) continue;
      const had = this.cache.get(s.id);
      const now = this.clock();
      const waitFor = had && had.mark !== mark ? Math.max(had.at + had.cost * 9 - now, 0) : 0;
      if (had?.mark !== mark && (waitFor > 0 || now - start >= budgetMs)) {
        staleFor = Math.min(staleFor ?? Infinity, waitFor);
        if (had) errors.set(s.id, had.errors);
        continue;
      }
      if (!had || had.mark !== mark) {
        const n = errorCauses(checkStored(this.store, s, this.turns));
        this.cache.set(s.id, { mark, errors: n, at: now, cost: this.clock() - now });
      }
      errors.set(s.id, this.cache.get(s.id)!.errors);
    }
    return { errors, staleFor };
  }
}

/** Sessions with check's error count in `errorCount` (the stored field holds what the capture counted). */
export function withCheckedErrors(sessions: Session[], errors: Map<string, number>): Session[] {
  return sessions.map((s) => (errors.has(s.id) ? { ...s, errorCount: errors.get(s.id)! } : s));
}

const shared = new WeakMap<CaptureStore, ErrorCounts>();

/** One cache per open store, for a process that keeps its store open (the TUI, `mcptap mcp`). */
export function errorCountsOf(store: CaptureStore): ErrorCounts {
  let c = shared.get(store);
  if (!c) shared.set(store, (c = new ErrorCounts(store)));
  return c;
}

/** `sessions` with the error count check gives each. */
export function withErrors(store: CaptureStore, sessions: Session[]): Session[] {
  return withCheckedErrors(sessions, errorCountsOf(store).counts(sessions).errors);
}
