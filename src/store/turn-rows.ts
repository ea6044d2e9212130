import type Database from 'better-sqlite3';
import type { Blob, Turn } from '../capture/turn.js';
import { toRow, type Field } from './rows.js';

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

/** Turn columns in table order, each with how it is read off the model. */
export const TURN_FIELDS: Field<Turn>[] = [
  ['session_id', (t) => t.sessionId],
  ['seq', (t) => t.seq],
  ['exchange_id', (t) => t.exchangeId],
  ['ts', (t) => t.ts],
  ['ended_at', (t) => t.endedAt],
  ['api', (t) => t.api],
  ['model', (t) => t.model],
  ['stream', (t) => (t.stream ? 1 : 0)],
  ['status', (t) => t.status],
  ['tools_hash', (t) => t.toolsHash],
  ['system_hash', (t) => t.systemHash],
  ['tool_names_hash', (t) => t.toolNamesHash],
  ['stop_reason', (t) => t.stopReason],
  ['usage', (t) => json(t.usage)],
  ['error', (t) => json(t.error)],
  ['text', (t) => t.text],
  ['message_count', (t) => t.messageCount],
  ['server_results', (t) => (t.serverResults.length ? json(t.serverResults) : null)],
  ['mcp_listings', (t) => (t.mcpListings.length ? json(t.mcpListings) : null)],
  ['mcp_servers', (t) => (t.mcpServers.length ? json(t.mcpServers) : null)],
];

/** A turn's tool use or result by position: the rows of `tool_uses` and `tool_results`. */
export type TurnPart = [turn: Turn, idx: number];

export const TOOL_USE_FIELDS: Field<TurnPart>[] = [
  ['session_id', ([t]) => t.sessionId],
  ['turn_seq', ([t]) => t.seq],
  ['idx', ([, i]) => i],
  ['id', ([t, i]) => t.toolUses[i].id],
  ['name', ([t, i]) => t.toolUses[i].name],
  ['kind', ([t, i]) => t.toolUses[i].kind],
  ['input', ([t, i]) => t.toolUses[i].inputText || JSON.stringify(t.toolUses[i].input ?? {})],
  ['server_label', ([t, i]) => t.toolUses[i].serverLabel],
];

export const TOOL_RESULT_FIELDS: Field<TurnPart>[] = [
  ['session_id', ([t]) => t.sessionId],
  ['turn_seq', ([t]) => t.seq],
  ['idx', ([, i]) => i],
  ['tool_use_id', ([t, i]) => t.toolResults[i].toolUseId],
  ['is_error', ([t, i]) => (t.toolResults[i].isError ? 1 : 0)],
  ['text', ([t, i]) => t.toolResults[i].text],
];

export const BLOB_FIELDS: Field<Blob>[] = [
  ['hash', (b) => b.hash],
  ['text', (b) => b.text],
];

export const TURN_COLUMNS = TURN_FIELDS.map(([c]) => c);
export const TOOL_USE_COLUMNS = TOOL_USE_FIELDS.map(([c]) => c);
export const TOOL_RESULT_COLUMNS = TOOL_RESULT_FIELDS.map(([c]) => c);
export const BLOB_COLUMNS = BLOB_FIELDS.map(([c]) => c);

/** The tool uses and the tool results of turns, as rows go. */
export const usesOf = (turns: Turn[]): TurnPart[] => turns.flatMap((t) => t.toolUses.map((_, i): TurnPart => [t, i]));
export const resultsOf = (turns: Turn[]): TurnPart[] => turns.flatMap((t) => t.toolResults.map((_, i): TurnPart => [t, i]));

export function turnToRow(t: Turn): Row {
  return toRow(TURN_FIELDS, t);
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

/**
 * Statements that write turns and blobs; a turn written again replaces its tool rows. The column
 * placeholders are the database thread's (packed.ts), so rows bind as the recorder sends them.
 */
export class TurnWriter {
  readonly turn: Database.Statement;
  readonly use: Database.Statement;
  readonly result: Database.Statement;
  readonly blob: Database.Statement;
  private readonly delUses: Database.Statement;
  private readonly delResults: Database.Statement;

  constructor(db: Database.Database, place: (column: string) => string = () => '?') {
    const insert = (verb: string, table: string, columns: string[]) =>
      db.prepare(`${verb} INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(place).join(', ')})`);
    this.turn = insert('INSERT OR REPLACE', 'turns', TURN_COLUMNS);
    this.use = insert('INSERT', 'tool_uses', TOOL_USE_COLUMNS);
    this.result = insert('INSERT', 'tool_results', TOOL_RESULT_COLUMNS);
    this.blob = insert('INSERT OR IGNORE', 'blobs', BLOB_COLUMNS);
    this.delUses = db.prepare(`DELETE FROM tool_uses WHERE session_id = ? AND turn_seq = ?`);
    this.delResults = db.prepare(`DELETE FROM tool_results WHERE session_id = ? AND turn_seq = ?`);
  }

  /** A turn's row written: its tool rows from before go (the rows that follow are its current ones). */
  turnRow(row: unknown[]): void {
    this.turn.run(row);
    this.delUses.run(row[0], row[1]);
    this.delResults.run(row[0], row[1]);
  }

  /** Call inside a transaction. */
  write(turns: Turn[], blobs: Blob[]): void {
    const values = <T>(fields: Field<T>[], x: T) => fields.map(([, get]) => get(x));
    for (const b of blobs) this.blob.run(values(BLOB_FIELDS, b));
    for (const t of turns) this.turnRow(values(TURN_FIELDS, t));
    for (const u of usesOf(turns)) this.use.run(values(TOOL_USE_FIELDS, u));
    for (const r of resultsOf(turns)) this.result.run(values(TOOL_RESULT_FIELDS, r));
  }
}
