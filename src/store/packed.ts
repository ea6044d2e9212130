import type { Exchange, RpcMessage, Session } from '../capture/model.js';
import type { RecordBatch } from './pending.js';
import {
  EXCHANGE_COLUMNS, MESSAGE_COLUMNS, SESSION_COLUMNS,
  exchangeToRow, messageToRow, rowToExchange, rowToMessage, rowToSession, sessionToRow,
} from './rows.js';

/**
 * How a batch crosses to the database thread. Rows go as flat arrays of primitives in column order
 * (cheap to clone: no keys, no nested objects). The big text columns (message payloads and exchange
 * bodies) go as UTF-8 in one buffer that is transferred, not copied: neither thread keeps a second
 * copy of a payload as a string, which is what made memory grow under a fast SSE stream. In the
 * flat arrays such a column holds its byte length; the bytes follow one another in `text` in row order.
 */
export interface PackedBatch {
  sessions: unknown[];
  exchanges: unknown[];
  messages: unknown[];
  text: Uint8Array;
  /** Records in the batch. */
  count: number;
}

type Row = Record<string, unknown>;

/** Columns that can be large: they travel as bytes. */
export const BIG_COLUMNS = new Set(['payload', 'request_body', 'response_body']);

interface Table {
  columns: string[];
  /** Positions of the big text columns. */
  big: boolean[];
}

const table = (columns: string[]): Table => ({ columns, big: columns.map((c) => BIG_COLUMNS.has(c)) });
export const TABLES = {
  sessions: table(SESSION_COLUMNS),
  exchanges: table(EXCHANGE_COLUMNS),
  messages: table(MESSAGE_COLUMNS),
};

/**
 * `buffer(n)` gives memory for the text (at least n bytes); the recorder passes buffers that came
 * back from the database thread, so a long stream reuses the same few instead of leaving each to a GC.
 */
export function packBatch(b: RecordBatch, buffer: (n: number) => ArrayBuffer = (n) => new ArrayBuffer(n)): PackedBatch {
  const texts: string[] = [];
  let bytes = 0;
  const flatten = (rows: Row[], t: Table): unknown[] => {
    const out: unknown[] = new Array(rows.length * t.columns.length);
    let k = 0;
    for (const r of rows) {
      for (let i = 0; i < t.columns.length; i++) {
        const v = r[t.columns[i]];
        if (t.big[i] && typeof v === 'string') {
          const n = Buffer.byteLength(v);
          texts.push(v);
          bytes += n;
          out[k++] = n;
        } else out[k++] = v ?? null;
      }
    }
    return out;
  };
  const sessions = flatten(b.sessions.map(sessionToRow), TABLES.sessions);
  const exchanges = flatten(b.exchanges.map(exchangeToRow), TABLES.exchanges);
  const messages = flatten(b.messages.map(messageToRow), TABLES.messages);
  // Not from Buffer's shared pool: this memory is handed over whole.
  const text = Buffer.from(buffer(bytes), 0, bytes);
  let off = 0;
  for (const s of texts) off += text.write(s, off);
  return { sessions, exchanges, messages, text, count: b.sessions.length + b.exchanges.length + b.messages.length };
}

/**
 * Walks the rows of one table of a packed batch. `big` turns a big column's bytes into what is bound
 * for it; the default decodes them to a string.
 */
export function* unpackRows(flat: unknown[], t: Table, cursor: { text: Uint8Array; off: number }, big?: (bytes: Uint8Array) => unknown): Generator<unknown[]> {
  const n = t.columns.length;
  for (let k = 0; k < flat.length; k += n) {
    const row = flat.slice(k, k + n);
    for (let i = 0; i < n; i++) {
      if (!t.big[i] || typeof row[i] !== 'number') continue;
      const len = row[i] as number;
      const bytes = cursor.text.subarray(cursor.off, cursor.off + len);
      cursor.off += len;
      row[i] = big ? big(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
    }
    yield row;
  }
}

const toRow = (values: unknown[], columns: string[]): Row => Object.fromEntries(columns.map((c, i) => [c, values[i]]));

/** Back to model objects: when the database refused the batch and it must wait for a retry. */
export function unpackBatch(p: PackedBatch): RecordBatch {
  const cursor = { text: p.text, off: 0 };
  const rows = (flat: unknown[], t: Table) => [...unpackRows(flat, t, cursor)].map((v) => toRow(v, t.columns));
  const sessions: Session[] = rows(p.sessions, TABLES.sessions).map(rowToSession);
  const exchanges: Exchange[] = rows(p.exchanges, TABLES.exchanges).map(rowToExchange);
  const messages: RpcMessage[] = rows(p.messages, TABLES.messages).map(rowToMessage);
  return { sessions, exchanges, messages };
}
