import type Database from 'better-sqlite3';
import type { Exchange, RpcMessage } from '../model/model.js';
import { decodeErrorFromText, failureFromText, rewritesFromText } from './legacy-facts.js';

/** Schema 5 → 6: exchanges gain `failure` and `rewrites` (JSON), and `messages.decode_error` becomes JSON. */
export function factsAsData(db: Database.Database): void {
  db.exec(`ALTER TABLE exchanges ADD COLUMN failure TEXT; ALTER TABLE exchanges ADD COLUMN rewrites TEXT;`);
  const setExchange = db.prepare(`UPDATE exchanges SET failure = ?, rewrites = ? WHERE id = ?`);
  const exchanges = db.prepare(`SELECT id, kind, status, aborted, response_headers, error, rewrite FROM exchanges
    WHERE error IS NOT NULL OR rewrite IS NOT NULL OR aborted = 1 OR (kind = 'websocket' AND status IS NOT NULL AND status != 101)`);
  // Read first, then write: better-sqlite3 runs no statement while an iterator is open.
  const changes: Array<[string | null, string | null, string]> = [];
  for (const r of exchanges.iterate() as Iterable<Record<string, unknown>>) {
    const failure = failureFromText(r.error as string | null, {
      kind: r.kind as Exchange['kind'], status: (r.status as number) ?? null, aborted: r.aborted === 1,
      responseHeaders: typeof r.response_headers === 'string' ? JSON.parse(r.response_headers) : null,
    });
    const rewrites = rewritesFromText(r.rewrite as string | null);
    changes.push([failure ? JSON.stringify(failure) : null, rewrites.length ? JSON.stringify(rewrites) : null, r.id as string]);
  }
  for (const c of changes) setExchange.run(...c);
  const setMessage = db.prepare(`UPDATE messages SET decode_error = ? WHERE session_id = ? AND seq = ?`);
  const messages = db.prepare(`SELECT session_id, seq, kind, decode_error FROM messages WHERE decode_error IS NOT NULL`);
  const updates: Array<[string, string, number]> = [];
  for (const r of messages.iterate() as Iterable<Record<string, unknown>>) {
    const d = decodeErrorFromText(r.decode_error as string, r.kind as RpcMessage['kind']);
    if (d) updates.push([JSON.stringify(d), r.session_id as string, r.seq as number]);
  }
  for (const u of updates) setMessage.run(...u);
}
