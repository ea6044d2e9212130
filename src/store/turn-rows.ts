import type Database from 'better-sqlite3';
import type { Blob, Turn } from '../capture/turn.js';

// The mapping between turns and their rows (turns, tool_uses, tool_results, blobs), for the recorder,
// the read API and import alike.

type Row = Record<string, unknown>;

const json = (v: unknown): string | null => (v == null ? null : JSON.stringify(v));
const parse = <T>(v: unknown, dflt: T): T => (typeof v === 'string' ? (JSON.parse(v) as T) : dflt);
/** A tool input as stored: its JSON, or the text the model sent when that was not JSON. */
function inputValue(text: unknown): unknown {
  try {
    return JSON.parse(String(text));
  } catch {
    return text;
  }
}

export function turnToRow(t: Turn): Row {
  return {
    session_id: t.sessionId, seq: t.seq, exchange_id: t.exchangeId, ts: t.ts, ended_at: t.endedAt, api: t.api,
    model: t.model, stream: t.stream ? 1 : 0, status: t.status, tools_hash: t.toolsHash, system_hash: t.systemHash,
    tool_names_hash: t.toolNamesHash, stop_reason: t.stopReason, usage: json(t.usage), error: json(t.error), text: t.text,
    message_count: t.messageCount, server_results: t.serverResults.length ? json(t.serverResults) : null,
    mcp_listings: t.mcpListings.length ? json(t.mcpListings) : null, mcp_servers: t.mcpServers.length ? json(t.mcpServers) : null,
  };
}

/** A turn from its row, with its tool uses and results (rows of their tables, in order). */
export function rowToTurn(r: Row, uses: Row[], results: Row[]): Turn {
  return {
    sessionId: r.session_id as string, seq: r.seq as number, exchangeId: (r.exchange_id as string) ?? '',
    ts: r.ts as number, endedAt: (r.ended_at as number) ?? null, api: r.api as Turn['api'], model: (r.model as string) ?? null,
    stream: r.stream === 1, status: (r.status as number) ?? null, toolsHash: (r.tools_hash as string) ?? null,
    systemHash: (r.system_hash as string) ?? null, toolNamesHash: (r.tool_names_hash as string) ?? null,
    stopReason: (r.stop_reason as string) ?? null, usage: parse(r.usage, null), error: parse(r.error, null),
    text: (r.text as string) ?? '', messageCount: (r.message_count as number) ?? 0,
    serverResults: parse(r.server_results, []), mcpListings: parse(r.mcp_listings, []), mcpServers: parse(r.mcp_servers, []),
    toolUses: uses.map((u) => ({
      id: u.id as string, name: u.name as string, kind: u.kind as Turn['toolUses'][number]['kind'],
      inputText: u.input as string, input: inputValue(u.input), serverLabel: (u.server_label as string) ?? null,
    })),
    toolResults: results.map((x) => ({ toolUseId: x.tool_use_id as string, isError: x.is_error === 1, text: x.text as string })),
  };
}

const TURN_COLUMNS = Object.keys(turnToRow({
  sessionId: '', seq: 0, exchangeId: '', ts: 0, endedAt: null, api: 'anthropic-messages', model: null, stream: false, status: null,
  toolsHash: null, systemHash: null, toolNamesHash: null, toolUses: [], toolResults: [], serverResults: [], mcpListings: [], mcpServers: [],
  stopReason: null, usage: null, error: null, text: '', messageCount: 0,
}));

/** Statements that write turns and blobs; a turn written again replaces its tool rows. */
export class TurnWriter {
  private readonly stmts: Record<'turn' | 'delUses' | 'delResults' | 'use' | 'result' | 'blob', Database.Statement>;

  constructor(db: Database.Database) {
    this.stmts = {
      turn: db.prepare(`INSERT OR REPLACE INTO turns (${TURN_COLUMNS.join(', ')}) VALUES (${TURN_COLUMNS.map((c) => '@' + c).join(', ')})`),
      delUses: db.prepare(`DELETE FROM tool_uses WHERE session_id = ? AND turn_seq = ?`),
      delResults: db.prepare(`DELETE FROM tool_results WHERE session_id = ? AND turn_seq = ?`),
      use: db.prepare(`INSERT INTO tool_uses (session_id, turn_seq, idx, id, name, kind, input, server_label) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      result: db.prepare(`INSERT INTO tool_results (session_id, turn_seq, idx, tool_use_id, is_error, text) VALUES (?, ?, ?, ?, ?, ?)`),
      blob: db.prepare(`INSERT OR IGNORE INTO blobs (hash, text) VALUES (?, ?)`),
    };
  }

  /** Call inside a transaction. */
  write(turns: Turn[], blobs: Blob[]): void {
    const s = this.stmts;
    for (const b of blobs) s.blob.run(b.hash, b.text);
    for (const t of turns) {
      s.turn.run(turnToRow(t));
      s.delUses.run(t.sessionId, t.seq);
      s.delResults.run(t.sessionId, t.seq);
      t.toolUses.forEach((u, i) => s.use.run(t.sessionId, t.seq, i, u.id, u.name, u.kind, u.inputText || JSON.stringify(u.input ?? {}), u.serverLabel));
      t.toolResults.forEach((r, i) => s.result.run(t.sessionId, t.seq, i, r.toolUseId, r.isError ? 1 : 0, r.text));
    }
  }
}
