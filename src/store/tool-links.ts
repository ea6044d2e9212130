import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { callKey, canonicalJson, linkToolUses, mcpCallOf, mcpToolName, type McpCall } from '../capture/join.js';
import type { Turn } from '../capture/turn.js';

// The join of model tool uses to MCP `tools/call` requests, made as rows are written and stored in
// `tool_links`, so that reading a conversation or a session is an indexed query. Every tools/call request
// is kept in `tool_calls` (name, arguments hash, the tool-use id it carries) for the join to look up.
// Links are remade when either side arrives: a turn (which also ends the previous turn's window), or a
// call, however late its session is written (another process, an import).

/** How far after a conversation's last turn its MCP calls are looked for: a call is sent after its turn. */
export const CALL_WINDOW_MS = 10 * 60_000;
/**
 * A call written without a tool-use id is joined to conversations with a turn since this long before it:
 * the window of a conversation's last turn ends CALL_WINDOW_MS after that turn's end, and no model turn
 * lasts an hour.
 */
const LOOKBACK_MS = CALL_WINDOW_MS + 60 * 60_000;

/** Stored in place of a call's canonical arguments (which can be a file's content): equal texts, equal hashes. */
export const argsHash = (canonical: string): string => createHash('sha256').update(canonical).digest('hex').slice(0, 32);

/**
 * The hash of a tool input's canonical JSON; null for one nested too deep to walk (a hostile or broken
 * input joins nothing by its arguments, and never fails the batch that carries it).
 */
function inputArgs(input: unknown): string | null {
  try {
    return argsHash(canonicalJson(input));
  } catch {
    return null;
  }
}

/** Whether a message row is a `tools/call` request, the only kind the join reads. */
export const isCallRow = (direction: unknown, kind: unknown, method: unknown): boolean =>
  method === 'tools/call' && kind === 'request' && direction === 'client->server';

export const TOOL_LINK_TABLES = `
  CREATE TABLE IF NOT EXISTS tool_calls (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    name TEXT NOT NULL,
    args_hash TEXT NOT NULL,
    tool_use_id TEXT,
    PRIMARY KEY (session_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS tool_calls_use ON tool_calls(tool_use_id) WHERE tool_use_id IS NOT NULL;
  CREATE INDEX IF NOT EXISTS tool_calls_key ON tool_calls(name, ts) WHERE tool_use_id IS NULL;
  CREATE TABLE IF NOT EXISTS tool_links (
    session_id TEXT NOT NULL,
    tool_use_id TEXT NOT NULL,
    turn_seq INTEGER NOT NULL,
    mcp_session_id TEXT NOT NULL,
    mcp_seq INTEGER NOT NULL,
    linked_by TEXT NOT NULL,
    PRIMARY KEY (session_id, tool_use_id)
  );
  CREATE INDEX IF NOT EXISTS tool_links_call ON tool_links(mcp_session_id, mcp_seq);
`;

type Row = Record<string, any>;

/** A tool input as stored: its JSON, or the text the model sent when that was not JSON. */
function inputValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const sqlFor = {
  insertCall: `INSERT OR IGNORE INTO tool_calls (session_id, seq, ts, name, args_hash, tool_use_id) VALUES (?, ?, ?, ?, ?, ?)`,
  useTurns: `SELECT u.session_id, t.ts FROM tool_uses u JOIN turns t ON t.session_id = u.session_id AND t.seq = u.turn_seq WHERE u.id = ?`,
  prevTurn: `SELECT max(ts) AS ts FROM turns WHERE session_id = ? AND ts < ?`,
  convsSince: `SELECT DISTINCT session_id FROM turns WHERE ts >= ?`,
  turnsOf: `SELECT seq, ts, coalesce(ended_at, ts) AS end FROM turns WHERE session_id = ? ORDER BY seq`,
  usesFrom: `SELECT u.turn_seq, u.id, u.name, u.kind, u.input FROM tool_uses u JOIN turns t ON t.session_id = u.session_id AND t.seq = u.turn_seq
    WHERE u.session_id = ? AND t.ts >= ? ORDER BY u.turn_seq, u.idx`,
  exactCall: `SELECT session_id, seq, ts, name, args_hash, tool_use_id FROM tool_calls WHERE tool_use_id = ? AND tool_use_id IS NOT NULL AND ts BETWEEN ? AND ? ORDER BY ts, session_id, seq LIMIT 1`,
  freeCalls: `SELECT session_id, seq, ts, name, args_hash, tool_use_id FROM tool_calls WHERE name = ? AND ts BETWEEN ? AND ?
    AND tool_use_id IS NULL ORDER BY ts`,
  claimedBefore: `SELECT l.mcp_session_id, l.mcp_seq FROM tool_links l JOIN turns t ON t.session_id = l.session_id AND t.seq = l.turn_seq
    WHERE l.session_id = ? AND t.ts < ? AND l.linked_by = 'name-args-time'`,
  dropFrom: `DELETE FROM tool_links WHERE session_id = ? AND turn_seq IN (SELECT seq FROM turns WHERE session_id = ? AND ts >= ?)`,
  dropConversation: `DELETE FROM tool_links WHERE session_id = ?`,
  insertLink: `INSERT OR REPLACE INTO tool_links (session_id, tool_use_id, turn_seq, mcp_session_id, mcp_seq, linked_by) VALUES (?, ?, ?, ?, ?, ?)`,
  linkedTo: `SELECT DISTINCT session_id FROM tool_links WHERE mcp_session_id = ?`,
  dropCalls: `DELETE FROM tool_calls WHERE session_id = ?`,
  dropLinksTo: `DELETE FROM tool_links WHERE session_id = ? OR mcp_session_id = ?`,
};

/**
 * Keeps `tool_calls` and `tool_links` up to date as rows are written: tell it each tools/call request row
 * and each turn written, then `link()` inside the same transaction.
 */
export class ToolLinker {
  private readonly stmts: Record<keyof typeof sqlFor, Database.Statement>;
  /** Conversations to relink, each from the earliest turn time whose links may have changed. */
  private readonly dirty = new Map<string, number>();
  /** The earliest call written since the last link() that carries no tool-use id. */
  private freeFrom = Infinity;

  constructor(db: Database.Database) {
    this.stmts = Object.fromEntries(Object.entries(sqlFor).map(([k, sql]) => [k, db.prepare(sql)])) as ToolLinker['stmts'];
  }

  /** Whether a database has the link tables (one opened read-only at an older schema has not). */
  static available(db: Database.Database): boolean {
    return !!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tool_links'`).get();
  }

  /** A tools/call request row written. A payload cut short (it does not parse) is no call for the join. */
  call(sessionId: string, seq: number, ts: number, payload: string): void {
    let c: McpCall | null;
    try {
      c = mcpCallOf(sessionId, seq, ts, payload, null);
    } catch {
      // Arguments nested too deep to put in canonical form: the call joins by its tool-use id or not at all.
      c = null;
    }
    if (!c) return;
    if (!this.stmts.insertCall.run(sessionId, seq, ts, c.name, argsHash(c.args), c.toolUseId).changes) return;
    if (!c.toolUseId) this.freeFrom = Math.min(this.freeFrom, ts);
    else for (const r of this.stmts.useTurns.all(c.toolUseId) as Row[]) this.mark(r.session_id, r.ts);
  }

  /** A turn row written: its own links, and the previous turn's, whose window it ends, may change. */
  turn(sessionId: string, ts: number): void {
    const prev = this.stmts.prevTurn.get(sessionId, ts) as { ts: number | null };
    this.mark(sessionId, prev.ts ?? ts);
  }

  private mark(conversation: string, fromTs: number): void {
    const had = this.dirty.get(conversation);
    if (had === undefined || fromTs < had) this.dirty.set(conversation, fromTs);
  }

  /** Makes the links what the rows written since the last call allow. Call inside the writing transaction. */
  link(): void {
    try {
      if (this.freeFrom < Infinity) {
        for (const { session_id } of this.stmts.convsSince.all(this.freeFrom - LOOKBACK_MS) as Row[]) {
          const prev = this.stmts.prevTurn.get(session_id, this.freeFrom) as { ts: number | null };
          this.mark(session_id, prev.ts ?? this.freeFrom);
        }
      }
      for (const [conversation, fromTs] of this.dirty) this.relink(conversation, fromTs);
    } finally {
      this.reset();
    }
  }

  /** Forgets what was noted (the transaction it was noted in rolled back). */
  reset(): void {
    this.dirty.clear();
    this.freeFrom = Infinity;
  }

  /**
   * Relinks a conversation's turns from `fromTs` on, as `linkToolUses` links the whole conversation: the
   * calls the earlier turns claimed by name stay theirs, and nothing written since reaches their windows.
   */
  relink(conversation: string, fromTs = -Infinity): void {
    const s = this.stmts;
    const all = s.turnsOf.all(conversation) as Array<{ seq: number; ts: number; end: number }>;
    if (!all.length) {
      s.dropConversation.run(conversation);
      return;
    }
    // The conversation's window, as the join has always read it: from just before its first turn to minutes after its last.
    const from = all[0].ts - 1000;
    const to = all.reduce((m, t) => Math.max(m, t.end), -Infinity) + CALL_WINDOW_MS;
    const lower = Number.isFinite(fromTs) ? fromTs : -Number.MAX_VALUE;
    const turns = new Map<number, Turn>();
    for (const t of all) if (t.ts >= lower) turns.set(t.seq, { seq: t.seq, ts: t.ts, toolUses: [] } as unknown as Turn);
    for (const u of s.usesFrom.all(conversation, lower) as Row[]) {
      turns.get(u.turn_seq)?.toolUses.push({ id: u.id, name: u.name, kind: u.kind, input: inputValue(u.input), inputText: u.input, serverLabel: null });
    }
    const calls = new Map<string, McpCall>();
    const add = (r: Row) => calls.set(callKey(r.session_id, r.seq), {
      sessionId: r.session_id, seq: r.seq, ts: r.ts, name: r.name, args: r.args_hash, toolUseId: r.tool_use_id ?? null, result: null,
    });
    // Only the calls a tool use here could match: by its id, or by its tool's name and its arguments. The
    // index is by name and time only (appended to as calls come, where one by arguments is written all over).
    const wanted = new Map<string, Set<string>>();
    // An input too deep to hash matches no stored hash.
    const args = (input: unknown) => inputArgs(input) ?? '';
    for (const t of turns.values()) {
      for (const u of t.toolUses) {
        const exact = s.exactCall.get(u.id, from, to) as Row | undefined;
        if (exact) add(exact);
        const hash = inputArgs(u.input ?? {});
        const name = mcpToolName(u.name);
        if (hash) wanted.set(name, (wanted.get(name) ?? new Set()).add(hash));
      }
    }
    for (const [name, hashes] of wanted) {
      for (const r of s.freeCalls.all(name, Math.max(lower, from), to) as Row[]) if (hashes.has(r.args_hash)) add(r);
    }
    const claimed = new Set((s.claimedBefore.all(conversation, lower) as Row[]).map((r) => callKey(r.mcp_session_id, r.mcp_seq)));
    const links = linkToolUses([...turns.values()], [...calls.values()], { args, claimed });
    s.dropFrom.run(conversation, conversation, lower);
    for (const t of turns.values()) {
      for (const u of t.toolUses) {
        const l = links.get(u.id);
        if (l) s.insertLink.run(conversation, u.id, t.seq, l.call.sessionId, l.call.seq, l.by);
      }
    }
  }

  /**
   * A session deleted (prune): its calls and links go, and the conversations that had linked to it are
   * relinked without it. Call inside the deleting transaction, before the session's turns are deleted.
   */
  forget(sessionId: string): string[] {
    const s = this.stmts;
    const relink = (s.linkedTo.all(sessionId) as Row[]).map((r) => r.session_id as string).filter((id) => id !== sessionId);
    s.dropCalls.run(sessionId);
    s.dropLinksTo.run(sessionId, sessionId);
    return relink;
  }
}

/**
 * Fills the link tables of a database written before them: every tools/call request already stored,
 * then every conversation's links (once, on the writing open that migrates it).
 */
export function backfillToolLinks(db: Database.Database): void {
  db.exec(TOOL_LINK_TABLES);
  const linker = new ToolLinker(db);
  const page = db.prepare(`SELECT rowid AS id, session_id, seq, ts, direction, kind, method, payload FROM messages
    WHERE rowid > ? AND method = 'tools/call' ORDER BY rowid LIMIT 1000`);
  for (let last = 0; ;) {
    const rows = page.all(last) as Row[];
    if (!rows.length) break;
    for (const r of rows) if (isCallRow(r.direction, r.kind, r.method)) linker.call(r.session_id, r.seq, r.ts, r.payload);
    last = rows[rows.length - 1].id;
  }
  linker.reset();
  for (const { session_id } of db.prepare(`SELECT DISTINCT session_id FROM turns`).all() as Row[]) linker.relink(session_id);
}
