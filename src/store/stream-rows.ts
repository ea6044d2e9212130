import type Database from 'better-sqlite3';
import type { StreamCarrier, StreamCloser, StreamFacts } from '../capture/streams.js';
import type { Field } from './rows.js';

// The mapping between stream facts and the rows of `streams`, for the recorder and the read API.

/** Stream columns in table order, each with how it is read off the facts. */
export const STREAM_FIELDS: Field<StreamFacts>[] = [
  ['exchange_id', (f) => f.exchangeId],
  ['session_id', (f) => f.sessionId],
  ['carrier', (f) => f.carrier],
  ['opened_at', (f) => f.openedAt],
  ['first_byte_at', (f) => f.firstByteAt],
  ['last_event_at', (f) => f.lastEventAt],
  ['last_activity_at', (f) => f.lastActivityAt],
  ['events', (f) => f.events],
  ['keep_alives', (f) => f.keepAlives],
  ['bytes', (f) => f.bytes],
  ['longest_silence_ms', (f) => f.longestSilenceMs],
  ['closed_at', (f) => f.closedAt],
  ['closed_by', (f) => f.closedBy],
  ['resumed_from', (f) => f.resumedFrom],
];
export const STREAM_COLUMNS = STREAM_FIELDS.map(([c]) => c);

export function rowToStream(r: Record<string, unknown>): StreamFacts {
  return {
    exchangeId: r.exchange_id as string, sessionId: (r.session_id as string) ?? null, carrier: r.carrier as StreamCarrier,
    openedAt: r.opened_at as number, firstByteAt: (r.first_byte_at as number) ?? null, lastEventAt: (r.last_event_at as number) ?? null,
    lastActivityAt: (r.last_activity_at as number) ?? null, events: r.events as number, keepAlives: r.keep_alives as number,
    bytes: r.bytes as number, longestSilenceMs: r.longest_silence_ms as number, closedAt: (r.closed_at as number) ?? null,
    closedBy: (r.closed_by as StreamCloser) ?? null, resumedFrom: (r.resumed_from as string) ?? null,
  };
}

/** Writes stream facts; a stream written again replaces its row (its facts only grow). */
export class StreamWriter {
  readonly stmt: Database.Statement;

  constructor(db: Database.Database) {
    this.stmt = db.prepare(`INSERT OR REPLACE INTO streams (${STREAM_COLUMNS.join(', ')}) VALUES (${STREAM_COLUMNS.map(() => '?').join(', ')})`);
  }

  write(streams: StreamFacts[]): void {
    for (const f of streams) this.stmt.run(STREAM_FIELDS.map(([, get]) => get(f)));
  }
}

function hasStreams(db: Database.Database): boolean {
  return !!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'streams'`).get();
}

/**
 * A session's streams, by their exchange's session (a stream is written before its exchange is assigned).
 * A database from before the table has none.
 */
export function readStreams(db: Database.Database, sessionId: string): StreamFacts[] {
  if (!hasStreams(db)) return [];
  const rows = db.prepare(`SELECT s.* FROM streams s JOIN exchanges e ON e.id = s.exchange_id WHERE e.session_id = ? ORDER BY s.opened_at`).all(sessionId) as Record<string, unknown>[];
  return rows.map(rowToStream);
}

/** Deletes the streams of a session's exchanges (before the exchanges go). */
export function deleteStreams(db: Database.Database, sessionId: string): void {
  if (!hasStreams(db)) return;
  db.prepare(`DELETE FROM streams WHERE exchange_id IN (SELECT id FROM exchanges WHERE session_id = ?)`).run(sessionId);
}
