import type { Session } from '../model/model.js';
import type { Turn } from '../capture/turn.js';
import { mcpCallOf, resultOf, toolNamesOf, type LinkedBy, type McpCall } from '../capture/join.js';
import { joinTurns, linkedTurns, type Conversation, type UseLink } from '../capture/conversation.js';
import { CALL_WINDOW_MS, ToolLinker } from './tool-links.js';

export type { Conversation, ConversationToolUse, ConversationTurn } from '../capture/conversation.js';
import type { CaptureStore } from './read.js';
import type { ConversationContext, McpSide } from '../analysis/checks/types.js';
import { relevantMcpSides } from '../analysis/checks/model-context.js';
import { rowToTurn } from './turn-rows.js';
import { ContextCostReader } from './context-read.js';

type Row = Record<string, unknown>;

/** Clients connect their MCP servers at start, before the first model turn. */
const CONNECT_BEFORE_MS = 5 * 60_000;
/** A session of the run may have ended (refused) just before the first model turn; one that ended earlier was another run. */
const RUN_START_SLACK_MS = 30_000;

/**
 * Reads model turns, their blobs and the join to MCP calls (across every session and proxy that wrote
 * to the database), as the recorder stored it (tool-links.ts). A database from before turns existed
 * (opened read-only, not migrated) has none; one from before stored links, opened read-only, has its
 * links made as it is read, as they were then.
 */
export class TurnReader {
  private readonly blobs = new Map<string, string | null>();
  private readonly names = new Map<string, string[]>();
  readonly available: boolean;
  /** The database holds the links (schema 10 on). */
  private readonly stored: boolean;

  constructor(private readonly store: CaptureStore) {
    this.available = !!store.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'turns'`).get();
    this.stored = this.available && ToolLinker.available(store.db);
  }

  turns(sessionId: string): Turn[] {
    if (!this.available) return [];
    const db = this.store.db;
    const rows = db.prepare(`SELECT * FROM turns WHERE session_id = ? ORDER BY seq`).all(sessionId) as Row[];
    const uses = db.prepare(`SELECT * FROM tool_uses WHERE session_id = ? ORDER BY turn_seq, idx`).all(sessionId) as Row[];
    const results = db.prepare(`SELECT * FROM tool_results WHERE session_id = ? ORDER BY turn_seq, idx`).all(sessionId) as Row[];
    const group = (list: Row[]) => {
      const m = new Map<number, Row[]>();
      for (const r of list) {
        const k = r.turn_seq as number;
        const g = m.get(k);
        if (g) g.push(r);
        else m.set(k, [r]);
      }
      return m;
    };
    const u = group(uses);
    const res = group(results);
    return rows.map((r) => rowToTurn(r, u.get(r.seq as number) ?? [], res.get(r.seq as number) ?? []));
  }

  blob(hash: string | null): string | null {
    if (!hash || !this.available) return null;
    if (!this.blobs.has(hash)) {
      const r = this.store.db.prepare(`SELECT text FROM blobs WHERE hash = ?`).get(hash) as { text: string } | undefined;
      this.blobs.set(hash, r?.text ?? null);
    }
    return this.blobs.get(hash)!;
  }

  /** A stored model request body with its tools array and system prompt put back in place of their hashes. */
  expandBody(text: string | null): string | null {
    if (!text || !text.includes('"$blob"')) return text;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text);
    } catch {
      return text;
    }
    for (const [k, v] of Object.entries(body)) {
      const hash = v && typeof v === 'object' ? (v as { $blob?: unknown }).$blob : undefined;
      const blob = typeof hash === 'string' ? this.blob(hash) : null;
      if (blob != null) body[k] = JSON.parse(blob);
    }
    return JSON.stringify(body);
  }

  /** The size of a turn's request body as it went on the wire. */
  requestBytes(exchangeId: string): number {
    const r = this.store.db.prepare(`SELECT request_bytes AS n FROM exchanges WHERE id = ?`).get(exchangeId) as { n: number } | undefined;
    return r?.n ?? 0;
  }

  /** Names of the tools a turn offered (each distinct list is read once). */
  toolNames(t: Turn): string[] {
    const h = t.toolNamesHash;
    if (!h) return [];
    let n = this.names.get(h);
    if (!n) {
      const text = this.blob(h);
      n = text ? (JSON.parse(text) as string[]) : [];
      this.names.set(h, n);
    }
    return n;
  }

  /** `tools/call` requests of MCP sessions between two times, with their answers (for a database without stored links). */
  private mcpCalls(from: number, to: number): McpCall[] {
    const db = this.store.db;
    const sessions = db.prepare(`SELECT id FROM sessions WHERE transport != 'model-api' AND started_at <= ? AND (ended_at IS NULL OR ended_at >= ?)`)
      .all(to, from) as Array<{ id: string }>;
    const calls: McpCall[] = [];
    const reqs = db.prepare(`SELECT seq, ts, payload, correlated_seq FROM messages WHERE session_id = ? AND method = 'tools/call' AND kind = 'request'
      AND direction = 'client->server' AND ts BETWEEN ? AND ?`);
    const answer = db.prepare(`SELECT seq, payload FROM messages WHERE session_id = ? AND seq = ?`);
    for (const { id } of sessions) {
      for (const r of reqs.all(id, from, to) as Row[]) {
        const a = r.correlated_seq != null ? (answer.get(id, r.correlated_seq) as Row | undefined) : undefined;
        const c = mcpCallOf(id, r.seq as number, r.ts as number, r.payload as string, a ? { seq: a.seq as number, payload: a.payload as string } : null);
        if (c) calls.push(c);
      }
    }
    return calls;
  }

  /** A conversation's turns with each tool use joined to the MCP call it caused. */
  conversation(session: Session): Conversation {
    const turns = this.turns(session.id);
    if (!turns.length) return { session, turns: [] };
    if (this.stored) return { session, turns: linkedTurns(turns, (t) => this.toolNames(t), this.links(session.id)) };
    const from = turns[0].ts - 1000;
    const to = Math.max(...turns.map((t) => t.endedAt ?? t.ts)) + CALL_WINDOW_MS;
    return { session, turns: joinTurns(turns, (t) => this.toolNames(t), this.mcpCalls(from, to)) };
  }

  /** A conversation's stored links by tool-use id, each with its call's answer. */
  private links(sessionId: string): (toolUseId: string) => UseLink | undefined {
    const rows = this.store.db.prepare(`SELECT l.tool_use_id, l.mcp_session_id, l.mcp_seq, l.linked_by, a.seq AS answer_seq, a.payload AS answer
      FROM tool_links l LEFT JOIN messages r ON r.session_id = l.mcp_session_id AND r.seq = l.mcp_seq
      LEFT JOIN messages a ON a.session_id = l.mcp_session_id AND a.seq = r.correlated_seq WHERE l.session_id = ?`).all(sessionId) as Row[];
    const links = new Map<string, UseLink>(rows.map((r) => [r.tool_use_id as string, {
      session: r.mcp_session_id as string, seq: r.mcp_seq as number, by: r.linked_by as LinkedBy,
      result: r.answer_seq != null ? resultOf(r.answer_seq as number, r.answer as string) : null,
    }]));
    return (id) => links.get(id);
  }

  /**
   * What the model-* rules read: the joined turns and the MCP sessions around the conversation (those
   * its calls went to, and those a client started in the minutes before its first turn or during it).
   */
  context(session: Session): ConversationContext {
    const conv = this.conversation(session);
    if (!conv.turns.length) return { turns: [], mcp: [] };
    const mcp: McpSide[] = [];
    for (const id of this.runSessionIds(conv)) {
      const s = this.store.getSession(id);
      if (!s) continue;
      const listing = this.store.db.prepare(`SELECT payload FROM messages WHERE session_id = ? AND method = 'tools/list' AND kind = 'response' ORDER BY seq DESC LIMIT 1`).get(id) as { payload: string } | undefined;
      mcp.push({ session: s, tools: listing ? toolNamesOf(listing.payload) : null, failed: s.serverInfo == null });
    }
    return { turns: conv.turns, mcp: relevantMcpSides(conv.turns, mcp), costs: new ContextCostReader(this).costs(conv.turns) };
  }

  /**
   * The MCP sessions of a conversation's run: those its calls went to, and those its client started for it,
   * from the end of the conversation before it (an earlier run's sessions are not this run's) or minutes
   * before its first turn, up to its last turn; a session that had already ended well before the first turn
   * (a separate `claude mcp list`, say) is not part of it.
   */
  runSessionIds(conv: Conversation): string[] {
    const ids = new Set(conv.turns.flatMap((t) => t.toolUses.map((u) => u.mcpCall?.session)).filter((x): x is string => !!x));
    if (!conv.turns.length) return [...ids];
    const first = conv.turns[0].ts;
    const last = Math.max(...conv.turns.map((t) => t.endedAt ?? t.ts));
    const db = this.store.db;
    const before = db.prepare(`SELECT max(coalesce(ended_at, ts)) AS at FROM turns WHERE session_id != ? AND coalesce(ended_at, ts) < ?`).get(conv.session.id, first) as { at: number | null };
    const from = Math.max(first - CONNECT_BEFORE_MS, before.at ?? -Infinity);
    const near = db.prepare(`SELECT id FROM sessions WHERE transport NOT IN ('model-api', 'http') AND started_at BETWEEN ? AND ?
      AND (ended_at IS NULL OR ended_at >= ?) ORDER BY started_at`).all(from, last, first - RUN_START_SLACK_MS) as Array<{ id: string }>;
    for (const r of near) ids.add(r.id);
    return [...ids];
  }

  /**
   * The last run: the newest conversation and the MCP sessions it used, when the newest session belongs to
   * it; else the newest session alone (an MCP client with no model traffic through mcptap).
   */
  lastRun(): { conversation: Session | null; sessions: Session[] } {
    const newest = this.store.listSessions({ limit: 1 })[0];
    if (!newest) return { conversation: null, sessions: [] };
    if (!this.available) return { conversation: null, sessions: [newest] };
    const row = this.store.db.prepare(`SELECT s.id, max(coalesce(t.ended_at, t.ts)) AS last FROM sessions s JOIN turns t ON t.session_id = s.id
      WHERE s.transport = 'model-api' GROUP BY s.id ORDER BY min(t.ts) DESC LIMIT 1`).get() as { id: string; last: number } | undefined;
    const conversation = row ? this.store.getSession(row.id) : null;
    if (!conversation || (newest.id !== conversation.id && newest.startedAt > row!.last + RUN_START_SLACK_MS)) return { conversation: null, sessions: [newest] };
    const mcp = this.runSessionIds(this.conversation(conversation)).map((id) => this.store.getSession(id)).filter((s): s is Session => !!s);
    return { conversation, sessions: [...mcp.sort((a, b) => a.startedAt - b.startedAt), conversation] };
  }

  /** The tools/call requests of an MCP session that a model turn caused: seq → conversation and turn. */
  causedCalls(session: Session): Map<number, { conversation: string; turn: number; toolUse: string }> {
    const out = new Map<number, { conversation: string; turn: number; toolUse: string }>();
    if (!this.available || session.transport === 'model-api') return out;
    if (this.stored) {
      const rows = this.store.db.prepare(`SELECT mcp_seq, session_id, turn_seq, tool_use_id FROM tool_links WHERE mcp_session_id = ? ORDER BY session_id, turn_seq`).all(session.id) as Row[];
      for (const r of rows) out.set(r.mcp_seq as number, { conversation: r.session_id as string, turn: r.turn_seq as number, toolUse: r.tool_use_id as string });
      return out;
    }
    const end = session.endedAt ?? Number.MAX_SAFE_INTEGER;
    const convs = this.store.db.prepare(`SELECT DISTINCT s.id FROM sessions s JOIN turns t ON t.session_id = s.id
      WHERE s.transport = 'model-api' AND t.ts BETWEEN ? AND ?`).all(session.startedAt - CALL_WINDOW_MS, end) as Array<{ id: string }>;
    for (const { id } of convs) {
      const s = this.store.getSession(id);
      if (!s) continue;
      for (const t of this.conversation(s).turns) {
        for (const u of t.toolUses) if (u.mcpCall?.session === session.id) out.set(u.mcpCall.seq, { conversation: id, turn: t.seq, toolUse: u.id });
      }
    }
    return out;
  }

  /**
   * Tool results a conversation's turns carried back to the model (Claude Code's own `No such tool available`
   * among them) whose text holds every one of `texts` (lowercase), in turn order.
   */
  toolResultsContaining(sessionId: string, texts: string[]): Array<{ turn: number; ts: number; toolUseId: string; isError: boolean; text: string }> {
    if (!this.available || !texts.length) return [];
    const rows = this.store.db.prepare(`SELECT r.turn_seq, t.ts, r.tool_use_id, r.is_error, r.text FROM tool_results r JOIN turns t ON t.session_id = r.session_id AND t.seq = r.turn_seq
      WHERE r.session_id = ? ${texts.map(() => `AND instr(lower(r.text), ?) > 0`).join(' ')} ORDER BY r.turn_seq, r.idx`).all(sessionId, ...texts) as Row[];
    return rows.map((r) => ({ turn: r.turn_seq as number, ts: r.ts as number, toolUseId: r.tool_use_id as string, isError: !!r.is_error, text: r.text as string }));
  }

  /** Per conversation: turns, tool uses, and errors (failed answers and error results sent back). */
  counts(sessionId: string): { turns: number; toolUses: number; errors: number } {
    if (!this.available) return { turns: 0, toolUses: 0, errors: 0 };
    const db = this.store.db;
    const t = db.prepare(`SELECT count(*) AS n, sum(error IS NOT NULL) AS e FROM turns WHERE session_id = ?`).get(sessionId) as { n: number; e: number | null };
    const u = db.prepare(`SELECT count(*) AS n FROM tool_uses WHERE session_id = ?`).get(sessionId) as { n: number };
    const r = db.prepare(`SELECT count(*) AS n FROM tool_results WHERE session_id = ? AND is_error = 1`).get(sessionId) as { n: number };
    return { turns: t.n, toolUses: u.n, errors: (t.e ?? 0) + r.n };
  }
}
