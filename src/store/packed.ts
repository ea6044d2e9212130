import type { RecordBatch } from './pending.js';
import {
  EXCHANGE_COLUMNS, EXCHANGE_FIELDS, MESSAGE_COLUMNS, MESSAGE_FIELDS, SESSION_COLUMNS, SESSION_FIELDS,
  rowToExchange, rowToMessage, rowToSession, type Field,
} from './rows.js';
import {
  BLOB_COLUMNS, BLOB_FIELDS, TOOL_RESULT_COLUMNS, TOOL_RESULT_FIELDS, TOOL_USE_COLUMNS, TOOL_USE_FIELDS, TURN_COLUMNS, TURN_FIELDS,
  resultsOf, rowToTurn, usesOf,
} from './turn-rows.js';
import { rowToStream, STREAM_COLUMNS, STREAM_FIELDS } from './stream-rows.js';

/**
 * How a batch crosses to the database thread, whatever it holds (sessions, exchanges, messages, model
 * turns with their tool uses and results, blobs, stream facts): every row, column by column, encoded
 * into one buffer that is transferred, not cloned. A structured clone costs the sending thread per
 * value; this costs a tag and a copy. The big text columns (payloads, bodies, blobs, tool inputs and
 * results) are then bound from the buffer as bytes, so no thread makes a second string of them: that
 * is what made memory grow under a fast SSE stream.
 *
 * Layout: for each table (in TABLES order) its rows, for each row its columns in column order, each
 * value a tag byte (0 null, 1 float64 LE, 2 UTF-8 with a uint32 LE byte length).
 */
export interface PackedBatch {
  buffer: ArrayBuffer;
  /** Bytes of `buffer` in use. */
  length: number;
  /** Rows per table, in TABLES order. */
  rows: number[];
  /** Records in the batch (a turn with its tool uses and results is one). */
  count: number;
}

type Row = Record<string, unknown>;

/** Columns that can be large: they are bound as bytes. */
export const BIG_COLUMNS = new Set(['payload', 'request_body', 'response_body', 'text', 'input']);

export interface Table {
  name: string;
  columns: string[];
  /** Positions of the big text columns. */
  big: boolean[];
}

const table = (name: string, columns: string[]): Table => ({ name, columns, big: columns.map((c) => BIG_COLUMNS.has(c)) });
/** Every table a batch writes, in the order its rows are packed and written (a turn before its tool rows). */
export const TABLES = [
  table('sessions', SESSION_COLUMNS), table('exchanges', EXCHANGE_COLUMNS), table('messages', MESSAGE_COLUMNS),
  table('turns', TURN_COLUMNS), table('tool_uses', TOOL_USE_COLUMNS), table('tool_results', TOOL_RESULT_COLUMNS),
  table('blobs', BLOB_COLUMNS), table('streams', STREAM_COLUMNS),
];
/** Positions in TABLES. */
export const T = { session: 0, exchange: 1, message: 2, turn: 3, use: 4, result: 5, blob: 6, stream: 7 } as const;

class Writer {
  buf: Buffer;
  off = 0;

  constructor(private readonly alloc: (n: number) => ArrayBuffer, size: number) {
    this.buf = Buffer.from(alloc(size));
  }

  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const grown = Buffer.from(this.alloc(Math.max(this.buf.length * 2, this.off + n)));
    this.buf.copy(grown, 0, 0, this.off);
    this.buf = grown;
  }

  value(v: unknown): void {
    if (v == null) {
      this.ensure(1);
      this.buf[this.off++] = 0;
    } else if (typeof v === 'number' || typeof v === 'boolean') {
      this.ensure(9);
      this.buf[this.off++] = 1;
      this.buf.writeDoubleLE(Number(v), this.off);
      this.off += 8;
    } else {
      const s = String(v);
      this.ensure(5 + s.length * 3);
      this.buf[this.off] = 2;
      const n = this.buf.write(s, this.off + 5);
      this.buf.writeUInt32LE(n, this.off + 1);
      this.off += 5 + n;
    }
  }
}

/** Characters a batch's big texts hold (what its buffer is sized from, and what the rescue bound counts). */
export function batchChars(b: RecordBatch): number {
  let n = 0;
  for (const e of b.exchanges) n += (e.requestBody?.length ?? 0) + (e.responseBody?.length ?? 0);
  for (const m of b.messages) n += m.payload.length;
  for (const t of b.turns ?? []) {
    n += t.text.length;
    for (const u of t.toolUses) n += u.inputText.length;
    for (const r of t.toolResults) n += r.text.length;
  }
  for (const x of b.blobs ?? []) n += x.text.length;
  return n;
}

/**
 * `buffer(n)` gives memory of at least n bytes; the recorder passes buffers that came back from the
 * database thread, so a long stream reuses the same few instead of leaving each to a GC.
 */
export function packBatch(b: RecordBatch, buffer: (n: number) => ArrayBuffer = (n) => new ArrayBuffer(n)): PackedBatch {
  const turns = b.turns ?? [];
  const blobs = b.blobs ?? [];
  const streams = b.streams ?? [];
  // Sized from the big columns up front, so that a batch rarely needs to grow its buffer.
  const size = 1024 + b.sessions.length * 2048 + b.exchanges.length * 2048 + b.messages.length * 256 + turns.length * 4096
    + streams.length * 256 + batchChars(b);
  const w = new Writer(buffer, size);
  // Straight from the model to the buffer, column by column: no row objects in between.
  const put = <X>(items: X[], fields: Field<X>[]) => {
    for (const x of items) for (const f of fields) w.value(f[1](x));
    return items.length;
  };
  const uses = usesOf(turns);
  const results = resultsOf(turns);
  const rows = [
    put(b.sessions, SESSION_FIELDS), put(b.exchanges, EXCHANGE_FIELDS), put(b.messages, MESSAGE_FIELDS),
    put(turns, TURN_FIELDS), put(uses, TOOL_USE_FIELDS), put(results, TOOL_RESULT_FIELDS),
    put(blobs, BLOB_FIELDS), put(streams, STREAM_FIELDS),
  ];
  return {
    buffer: w.buf.buffer as ArrayBuffer,
    length: w.off,
    rows,
    count: b.sessions.length + b.exchanges.length + b.messages.length + turns.length + blobs.length + streams.length,
  };
}

/**
 * The rows of a packed batch, table by table, as arrays in column order. Strings come back as
 * strings, except big columns when `big` is given: it turns their bytes into what is bound for them.
 */
export function* unpackRows(p: PackedBatch, big?: (bytes: Buffer) => unknown): Generator<[number, unknown[]]> {
  const data = Buffer.from(p.buffer, 0, p.length);
  let off = 0;
  for (let t = 0; t < TABLES.length; t++) {
    const { columns, big: isBig } = TABLES[t];
    for (let r = 0; r < (p.rows[t] ?? 0); r++) {
      const row: unknown[] = new Array(columns.length);
      for (let c = 0; c < columns.length; c++) {
        const tag = data[off++];
        if (tag === 0) row[c] = null;
        else if (tag === 1) {
          row[c] = data.readDoubleLE(off);
          off += 8;
        } else {
          const n = data.readUInt32LE(off);
          off += 4;
          row[c] = big && isBig[c] ? big(data.subarray(off, off + n)) : data.toString('utf8', off, off + n);
          off += n;
        }
      }
      yield [t, row];
    }
  }
}

/** Back to model objects: when the database refused the batch and it must wait for a retry (or the rescue file). */
export function unpackBatch(p: PackedBatch): RecordBatch {
  const out: RecordBatch = { sessions: [], exchanges: [], messages: [] };
  const turns: Row[] = [];
  const parts = new Map<string, { uses: Row[]; results: Row[] }>();
  const partsOf = (r: Row) => {
    const k = r.session_id + ':' + r.turn_seq;
    let g = parts.get(k);
    if (!g) parts.set(k, (g = { uses: [], results: [] }));
    return g;
  };
  for (const [t, values] of unpackRows(p)) {
    const row: Row = {};
    TABLES[t].columns.forEach((c, i) => (row[c] = values[i]));
    if (t === T.session) out.sessions.push(rowToSession(row));
    else if (t === T.exchange) out.exchanges.push(rowToExchange(row));
    else if (t === T.message) out.messages.push(rowToMessage(row));
    else if (t === T.turn) turns.push(row);
    else if (t === T.use) partsOf(row).uses.push(row);
    else if (t === T.result) partsOf(row).results.push(row);
    else if (t === T.blob) (out.blobs ??= []).push({ hash: row.hash as string, text: row.text as string });
    else (out.streams ??= []).push(rowToStream(row));
  }
  if (turns.length) {
    out.turns = turns.map((r) => {
      const g = parts.get(r.session_id + ':' + r.seq);
      return rowToTurn(r, g?.uses ?? [], g?.results ?? []);
    });
    out.blobs ??= [];
  }
  return out;
}
