import type { SessionSpan } from './liveness.js';
import type Database from 'better-sqlite3';
import type { Exchange, MessageKind, RpcMessage, Session } from '../model/model.js';
import { UsageError } from '../errors.js';
import { openDatabase } from './db.js';
import { rowToExchange, rowToMessage, rowToSession } from './rows.js';
import { ToolLinker } from './tool-links.js';
import { deleteStreams, readStreams } from './stream-rows.js';
import type { StreamFacts } from '../capture/streams.js';

export interface TimelineRow extends RpcMessage {
  /** HTTP status of the exchange that carried the message (101 for WebSocket), or null. */
  httpStatus: number | null;
}

export type FilterableRow = Pick<RpcMessage, 'seq' | 'method' | 'subject' | 'direction' | 'kind' | 'isError' | 'latencyMs' | 'rpcId' | 'errorCode'> & { httpStatus: number | null };

export interface MessageQuery {
  /** First seq to return (inclusive). */
  fromSeq?: number;
  /** Last seq to return (inclusive). */
  toSeq?: number;
  limit?: number;
  /** Leave payloads out (the UI's timeline needs only the columns). */
  withoutPayload?: boolean;
  kinds?: MessageKind[];
  method?: string;
}

/**
 * The read API: every reader of captures (commands, TUI, analysis) goes through here. Reads are paged;
 * nothing loads a whole session's payloads unless a caller iterates them.
 */
export class CaptureStore {
  private constructor(readonly db: Database.Database, readonly file: string) {}

  static open(file: string, opts: { readonly?: boolean; create?: boolean } = {}): CaptureStore {
    return new CaptureStore(openDatabase(file, opts), file);
  }

  /** An empty store in memory, named `name` where a file name is shown (a recording opened directly). */
  static memory(name: string): CaptureStore {
    return new CaptureStore(openDatabase(':memory:', { create: true }), name);
  }

  close(): void {
    this.db.close();
  }

  listSessions(opts: { limit?: number } = {}): Session[] {
    const rows = this.db
      .prepare(`SELECT * FROM sessions ORDER BY started_at ${opts.limit ? 'DESC LIMIT ' + Number(opts.limit) : 'ASC'}`)
      .all() as Record<string, unknown>[];
    const sessions = rows.map(rowToSession);
    return opts.limit ? sessions.reverse() : sessions;
  }

  getSession(id: string): Session | null {
    const row = this.db.prepare(`SELECT * FROM sessions WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    return row ? rowToSession(row) : null;
  }

  /** An id or a unique id prefix; anything else is a usage error that says what to do. */
  resolveSession(idOrPrefix: string): Session {
    const wanted = idOrPrefix.trim().toLowerCase();
    if (!/^[0-9a-z-]+$/.test(wanted)) throw new UsageError(`'${idOrPrefix}' is not a session id (see 'mcptap sessions'; a .jsonl recording is given by its path)`);
    const exact = this.getSession(wanted);
    if (exact) return exact;
    const rows = this.db
      .prepare(`SELECT * FROM sessions WHERE id LIKE ? ESCAPE '\\' ORDER BY started_at LIMIT 6`)
      .all(wanted.replace(/[%_\\]/g, '\\$&') + '%') as Record<string, unknown>[];
    if (rows.length === 1) return rowToSession(rows[0]);
    if (rows.length === 0) throw new UsageError(`no session matches '${idOrPrefix}' in ${this.file} (see 'mcptap sessions'; a .jsonl recording is given by its path, or added with 'mcptap import FILE')`);
    const ids = rows.slice(0, 5).map((r) => r.id as string).join(', ');
    throw new UsageError(`'${idOrPrefix}' matches several sessions (${ids}${rows.length > 5 ? ', …' : ''}); give more characters`);
  }

  countMessages(sessionId: string): number {
    const r = this.db.prepare(`SELECT count(*) AS n FROM messages WHERE session_id = ?`).get(sessionId) as { n: number };
    return r.n;
  }

  maxSeq(sessionId: string): number {
    const r = this.db.prepare(`SELECT max(seq) AS n FROM messages WHERE session_id = ?`).get(sessionId) as { n: number | null };
    return r.n ?? 0;
  }

  messages(sessionId: string, q: MessageQuery = {}): RpcMessage[] {
    const where = ['session_id = @sessionId'];
    const params: Record<string, unknown> = { sessionId };
    if (q.fromSeq != null) { where.push('seq >= @fromSeq'); params.fromSeq = q.fromSeq; }
    if (q.toSeq != null) { where.push('seq <= @toSeq'); params.toSeq = q.toSeq; }
    if (q.method != null) { where.push('method = @method'); params.method = q.method; }
    if (q.kinds?.length) where.push(`kind IN (${q.kinds.map((k) => `'${k.replace(/'/g, '')}'`).join(',')})`);
    const cols = q.withoutPayload ? `*, '' AS payload` : '*';
    const sql = `SELECT ${cols} FROM messages WHERE ${where.join(' AND ')} ORDER BY seq${q.limit ? ' LIMIT ' + Number(q.limit) : ''}`;
    return (this.db.prepare(sql).all(params) as Record<string, unknown>[]).map(rowToMessage);
  }

  /** All of a session's messages, a page at a time. */
  *iterateMessages(sessionId: string, pageSize = 2000): Generator<RpcMessage> {
    let from = 1;
    for (;;) {
      const page = this.messages(sessionId, { fromSeq: from, limit: pageSize });
      for (const m of page) yield m;
      if (page.length < pageSize) return;
      from = page[page.length - 1].seq + 1;
    }
  }

  message(sessionId: string, seq: number): RpcMessage | null {
    const row = this.db.prepare(`SELECT * FROM messages WHERE session_id = ? AND seq = ?`).get(sessionId, seq) as Record<string, unknown> | undefined;
    return row ? rowToMessage(row) : null;
  }

  exchanges(sessionId: string): Exchange[] {
    return (this.db.prepare(`SELECT * FROM exchanges WHERE session_id = ? ORDER BY started_at`).all(sessionId) as Record<string, unknown>[]).map(rowToExchange);
  }

  /** The facts of a session's streams (event-stream responses, WebSocket connections, a stdio child). */
  streams(sessionId: string): StreamFacts[] {
    return readStreams(this.db, sessionId);
  }

  exchange(id: string): Exchange | null {
    const row = this.db.prepare(`SELECT * FROM exchanges WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    return row ? rowToExchange(row) : null;
  }

  /**
   * Timeline rows: messages without payloads, with the HTTP status of the exchange that carried them.
   * `seqs` picks rows by seq (a filtered view); otherwise a page from `fromSeq`.
   */
  timeline(sessionId: string, q: { fromSeq?: number; limit?: number; seqs?: number[] } = {}): TimelineRow[] {
    const cols = `m.session_id, m.seq, m.exchange_id, m.ts, m.direction, m.channel, m.kind, m.rpc_id, m.method, m.subject, '' AS payload,
      m.truncated, m.size, m.correlated_seq, m.latency_ms, m.sse_event_id, m.batch_index, m.is_error, m.error_code, m.decode_error, e.status AS http_status`;
    const base = `SELECT ${cols} FROM messages m LEFT JOIN exchanges e ON e.id = m.exchange_id WHERE m.session_id = ?`;
    let rows: Record<string, unknown>[];
    if (q.seqs) {
      rows = [];
      // Chunked: SQLite limits the number of bound parameters.
      for (let i = 0; i < q.seqs.length; i += 500) {
        const part = q.seqs.slice(i, i + 500);
        rows.push(...(this.db.prepare(`${base} AND m.seq IN (${part.map(() => '?').join(',')}) ORDER BY m.seq`).all(sessionId, ...part) as Record<string, unknown>[]));
      }
    } else {
      rows = this.db.prepare(`${base} AND m.seq >= ? ORDER BY m.seq LIMIT ?`).all(sessionId, q.fromSeq ?? 1, q.limit ?? 200) as Record<string, unknown>[];
    }
    return rows.map((r) => ({ ...rowToMessage(r), httpStatus: (r.http_status as number) ?? null }));
  }

  /** Seqs of messages whose payload contains `text` (case-insensitive for ASCII). */
  seqsContaining(sessionId: string, text: string): number[] {
    const like = '%' + text.replace(/[%_\\]/g, '\\$&') + '%';
    return (this.db.prepare(`SELECT seq FROM messages WHERE session_id = ? AND payload LIKE ? ESCAPE '\\' ORDER BY seq`).all(sessionId, like) as Array<{ seq: number }>).map((r) => r.seq);
  }

  /** Every message's filterable columns only (no payloads), for filtering a long session in memory. */
  filterRows(sessionId: string): FilterableRow[] {
    const rows = this.db.prepare(`SELECT m.seq, m.method, m.subject, m.direction, m.kind, m.is_error, m.latency_ms, m.rpc_id, m.error_code, e.status
      FROM messages m LEFT JOIN exchanges e ON e.id = m.exchange_id WHERE m.session_id = ? ORDER BY m.seq`).raw().all(sessionId) as unknown[][];
    return rows.map((r) => ({
      seq: r[0] as number, method: r[1] as string | null, subject: r[2] as string | null, direction: r[3] as RpcMessage['direction'],
      kind: r[4] as RpcMessage['kind'], isError: r[5] === 1, latencyMs: r[6] as number | null,
      rpcId: r[7] == null ? null : (JSON.parse(r[7] as string) as RpcMessage['rpcId']), errorCode: r[8] as number | null, httpStatus: r[9] as number | null,
    }));
  }

  /**
   * When each session last saw traffic (epoch ms): its end, else its newest message or exchange, else
   * its start. Sessions a client never ended (no DELETE, no close) are as old as their last traffic.
   */
  lastActivity(): Map<string, number> {
    const rows = this.db.prepare(`SELECT s.id AS id, max(s.started_at,
        coalesce(s.ended_at, 0),
        coalesce((SELECT m.ts FROM messages m WHERE m.session_id = s.id ORDER BY m.seq DESC LIMIT 1), 0),
        coalesce((SELECT max(e.started_at) FROM exchanges e WHERE e.session_id = s.id), 0)) AS at
      FROM sessions s`).all() as Array<{ id: string; at: number }>;
    return new Map(rows.map((r) => [r.id, r.at]));
  }

  /** Each session's first and last message (or turn, or for a session with neither its HTTP exchanges), newest traffic and open connections (see liveness.ts). */
  spans(): Map<string, SessionSpan> {
    // A conversation's traffic is its model turns, not JSON-RPC messages (a database from before turns has none).
    const turns = !!this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'turns'`).get();
    const rows = this.db.prepare(`SELECT s.id AS id, s.started_at AS started,
        coalesce((SELECT m.ts FROM messages m WHERE m.session_id = s.id ORDER BY m.seq ASC LIMIT 1), ${turns ? '(SELECT min(t.ts) FROM turns t WHERE t.session_id = s.id)' : 'NULL'}, (SELECT min(e.started_at) FROM exchanges e WHERE e.session_id = s.id)) AS first,
        coalesce((SELECT m.ts FROM messages m WHERE m.session_id = s.id ORDER BY m.seq DESC LIMIT 1), ${turns ? '(SELECT max(coalesce(t.ended_at, t.ts)) FROM turns t WHERE t.session_id = s.id)' : 'NULL'}, (SELECT max(coalesce(e.ended_at, e.started_at)) FROM exchanges e WHERE e.session_id = s.id)) AS last,
        (SELECT max(coalesce(e.ended_at, e.started_at)) FROM exchanges e WHERE e.session_id = s.id) AS ex,
        (SELECT count(*) FROM exchanges e WHERE e.session_id = s.id AND e.ended_at IS NULL) AS open
      FROM sessions s`).all() as Array<{ id: string; started: number; first: number | null; last: number | null; ex: number | null; open: number }>;
    return new Map(rows.map((r) => [r.id, { firstAt: r.first, lastAt: r.last, lastTrafficAt: Math.max(r.started, r.last ?? 0, r.ex ?? 0), open: r.open }]));
  }

  /** Deletes sessions with their messages and exchanges, in one transaction; returns what went. */
  deleteSessions(ids: string[]): { sessions: number; messages: number; exchanges: number } {
    const out = { sessions: 0, messages: 0, exchanges: 0 };
    const del = {
      messages: this.db.prepare(`DELETE FROM messages WHERE session_id = ?`),
      exchanges: this.db.prepare(`DELETE FROM exchanges WHERE session_id = ?`),
      session: this.db.prepare(`DELETE FROM sessions WHERE id = ?`),
    };
    // A conversation's turns go with it, and the blobs no turn names any more.
    const turnTables = !!this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'turns'`).get();
    const delTurns = turnTables ? ['turns', 'tool_uses', 'tool_results'].map((t) => this.db.prepare(`DELETE FROM ${t} WHERE session_id = ?`)) : [];
    const linker = ToolLinker.available(this.db) ? new ToolLinker(this.db) : null;
    const relink = new Set<string>();
    this.db.transaction(() => {
      for (const id of ids) {
        for (const c of linker?.forget(id) ?? []) relink.add(c);
        out.messages += del.messages.run(id).changes;
        deleteStreams(this.db, id);
        out.exchanges += del.exchanges.run(id).changes;
        for (const d of delTurns) d.run(id);
        out.sessions += del.session.run(id).changes;
      }
      if (turnTables) {
        this.db.exec(`DELETE FROM blobs WHERE hash NOT IN (SELECT tools_hash FROM turns WHERE tools_hash IS NOT NULL
          UNION SELECT system_hash FROM turns WHERE system_hash IS NOT NULL UNION SELECT tool_names_hash FROM turns WHERE tool_names_hash IS NOT NULL)`);
      }
      // A conversation whose calls went may link its tool uses to others now (as a read would have joined them).
      for (const c of relink) linker!.relink(c);
    })();
    return out;
  }

  /** Changes whenever another connection commits; the live UI polls this (cheap) before re-reading. */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }
}
