import type { RecordBatch } from './pending.js';
import {
  EXCHANGE_COLUMNS, EXCHANGE_FIELDS, MESSAGE_COLUMNS, MESSAGE_FIELDS, SESSION_COLUMNS, SESSION_FIELDS,
  rowToExchange, rowToMessage, rowToSession, type Field,
} from './rows.js';

/**
 * How a batch crosses to the database thread: every row, column by column, encoded into one buffer
 * that is transferred, not cloned. A structured clone costs the sending thread per value; this costs
 * a tag and a copy. The big text columns (payloads, bodies) are then bound from the buffer as bytes,
 * so no thread makes a second string of them: that is what made memory grow under a fast SSE stream.
 *
 * Layout: for each table (sessions, exchanges, messages) its rows, for each row its columns in
 * column order, each value a tag byte (0 null, 1 float64 LE, 2 UTF-8 with a uint32 LE byte length).
 */
export interface PackedBatch {
  buffer: ArrayBuffer;
  /** Bytes of `buffer` in use. */
  length: number;
  /** Rows per table: sessions, exchanges, messages. */
  rows: [number, number, number];
  /** Records in the batch. */
  count: number;
}

type Row = Record<string, unknown>;

/** Columns that can be large: they are bound as bytes. */
export const BIG_COLUMNS = new Set(['payload', 'request_body', 'response_body']);

export interface Table {
  columns: string[];
  /** Positions of the big text columns. */
  big: boolean[];
}

const table = (columns: string[]): Table => ({ columns, big: columns.map((c) => BIG_COLUMNS.has(c)) });
export const TABLES: [Table, Table, Table] = [table(SESSION_COLUMNS), table(EXCHANGE_COLUMNS), table(MESSAGE_COLUMNS)];

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

/**
 * `buffer(n)` gives memory of at least n bytes; the recorder passes buffers that came back from the
 * database thread, so a long stream reuses the same few instead of leaving each to a GC.
 */
export function packBatch(b: RecordBatch, buffer: (n: number) => ArrayBuffer = (n) => new ArrayBuffer(n)): PackedBatch {
  // Sized from the big columns up front, so that a batch rarely needs to grow its buffer.
  let size = 1024 + b.sessions.length * 2048;
  for (const e of b.exchanges) size += 2048 + (e.requestBody?.length ?? 0) + (e.responseBody?.length ?? 0);
  for (const m of b.messages) size += 256 + m.payload.length;
  const w = new Writer(buffer, size);
  // Straight from the model to the buffer, column by column: no row objects in between.
  const put = <T>(items: T[], fields: Field<T>[]) => {
    for (const x of items) for (const f of fields) w.value(f[1](x));
  };
  put(b.sessions, SESSION_FIELDS);
  put(b.exchanges, EXCHANGE_FIELDS);
  put(b.messages, MESSAGE_FIELDS);
  return {
    buffer: w.buf.buffer as ArrayBuffer,
    length: w.off,
    rows: [b.sessions.length, b.exchanges.length, b.messages.length],
    count: b.sessions.length + b.exchanges.length + b.messages.length,
  };
}

/**
 * The rows of a packed batch, table by table, as arrays in column order. Strings come back as
 * strings, except big columns when `big` is given: it turns their bytes into what is bound for them.
 */
export function* unpackRows(p: PackedBatch, big?: (bytes: Buffer) => unknown): Generator<[number, unknown[]]> {
  const data = Buffer.from(p.buffer, 0, p.length);
  let off = 0;
  for (let t = 0; t < 3; t++) {
    const { columns, big: isBig } = TABLES[t];
    for (let r = 0; r < p.rows[t]; r++) {
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

/** Back to model objects: when the database refused the batch and it must wait for a retry. */
export function unpackBatch(p: PackedBatch): RecordBatch {
  const out: RecordBatch = { sessions: [], exchanges: [], messages: [] };
  for (const [t, values] of unpackRows(p)) {
    const row: Row = {};
    TABLES[t].columns.forEach((c, i) => (row[c] = values[i]));
    if (t === 0) out.sessions.push(rowToSession(row));
    else if (t === 1) out.exchanges.push(rowToExchange(row));
    else out.messages.push(rowToMessage(row));
  }
  return out;
}
