import type Database from 'better-sqlite3';
import type { Exchange, RpcMessage, Session } from '../model/model.js';
import { PendingRecords, type RecordBatch } from './pending.js';
import type { Blob, Turn } from '../capture/turn.js';
import { TurnWriter } from './turn-rows.js';
import { StreamWriter } from './stream-rows.js';
import type { StreamFacts } from '../capture/streams.js';
import { BIG_COLUMNS, packBatch, T, TABLES, unpackBatch, unpackRows, type PackedBatch } from './packed.js';
import { isCallRow, ToolLinker } from './tool-links.js';
import { EXCHANGE_COLUMNS, MESSAGE_COLUMNS, SESSION_COLUMNS, upsertSql } from './rows.js';

export interface RecorderStats {
  written: number;
  /** Rows waiting for a write that failed; retried on every flush. */
  pending: number;
  failures: number;
  /** Rows given up on because the backlog hit its bound while the database kept failing. */
  dropped: number;
  lastError: string | null;
}

export interface RecorderOptions {
  /** How long rows gather before one transaction writes them. */
  flushMs?: number;
  /** Rows kept for retry while the database fails; beyond this the oldest are dropped and counted. */
  maxBacklog?: number;
  onWarning?: (message: string) => void;
  /** Called after each successful write (the worker reports progress with it). */
  onWrite?: () => void;
}

/**
 * Batches model objects into one SQLite transaction per tick. Objects are kept by reference and keyed,
 * so a message updated again before its flush (a request getting its correlated response) is written
 * once, with its latest state. A failing database never throws into the caller: it warns once, counts,
 * and keeps the rows for the next attempt.
 */
export class Recorder {
  private readonly pending = new PendingRecords();
  private timer: NodeJS.Timeout | null = null;
  private warned = false;
  /** Failed writes in a row; retries back off so a locked database costs the proxy almost nothing. */
  private streak = 0;
  private closed = false;
  private readonly flushMs: number;
  private readonly maxBacklog: number;
  readonly stats: RecorderStats = { written: 0, pending: 0, failures: 0, dropped: 0, lastError: null };

  constructor(private readonly db: Database.Database, private readonly opts: RecorderOptions = {}) {
    this.flushMs = opts.flushMs ?? 15;
    this.maxBacklog = opts.maxBacklog ?? 200_000;
  }

  session(s: Session): void {
    this.pending.session(s);
    this.schedule();
  }

  exchange(e: Exchange): void {
    this.pending.exchange(e);
    this.schedule();
  }

  message(m: RpcMessage): void {
    this.pending.message(m);
    this.schedule();
  }

  turn(t: Turn): void {
    this.pending.turn(t);
    this.schedule();
  }

  blob(b: Blob): void {
    this.pending.blob(b);
    this.schedule();
  }

  stream(f: StreamFacts): void {
    this.pending.stream(f);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    const delay = this.streak ? Math.min(1000, 50 * 2 ** this.streak) : this.flushMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, delay);
    this.timer.unref?.();
  }

  /** Writes everything gathered so far. Returns false when the database refused the write. */
  flush(): boolean {
    const total = this.pending.size;
    if (total === 0) return true;
    const batch = this.pending.take();
    // Records kept here (a retry, a restore) go the way every batch from the proxy goes: packed rows.
    return this.writeRows(packBatch(batch), () => batch);
  }

  /**
   * Writes a batch packed by the proxy thread, binding its big texts' bytes as they are (no strings are
   * made of them here). Behind a backlog of failed writes it queues up instead, so order holds.
   */
  writePacked(p: PackedBatch): boolean {
    if (p.count === 0) return true;
    if (this.pending.size > 0) {
      this.pending.add(unpackBatch(p));
      return this.flush();
    }
    return this.writeRows(p, () => unpackBatch(p));
  }

  private writeRows(p: PackedBatch, whole: () => RecordBatch): boolean {
    try {
      const w = this.writers();
      // A zero-length blob binds as NULL; the empty string is what was captured.
      const bytes = (b: Buffer) => (b.length ? b : '');
      this.db.transaction(() => {
        for (const [t, row] of unpackRows(p, bytes)) w.row(t, row);
        this.link(w.linker);
      })();
    } catch (err) {
      this.rowWriters?.linker.reset();
      return this.failed(whole(), err as Error);
    }
    return this.written(p.count);
  }

  /**
   * Links the batch's tool uses and calls, in a savepoint of the batch's transaction: a failure there
   * (a bug, not bad input) costs those links, never the captured rows.
   */
  private link(linker: ToolLinker): void {
    try {
      this.db.transaction(() => linker.link())();
    } catch (err) {
      linker.reset();
      this.opts.onWarning?.(`tool uses of this batch were not linked to their MCP calls (${(err as Error).message}); the records are stored`);
    }
  }

  private rowWriters: { row: (t: number, row: unknown[]) => void; linker: ToolLinker } | null = null;

  /** One statement per table, positional, big texts bound as bytes; turns and calls also go to the linker. */
  private writers() {
    if (this.rowWriters) return this.rowWriters;
    // Big text columns arrive as UTF-8 bytes: CAST stores them as the TEXT they are.
    const place = (c: string) => (BIG_COLUMNS.has(c) ? 'CAST(? AS TEXT)' : '?');
    const turns = new TurnWriter(this.db, place);
    const linker = new ToolLinker(this.db);
    const stmts: Database.Statement[] = [
      this.db.prepare(upsertSql('sessions', SESSION_COLUMNS, ['id'], place)),
      this.db.prepare(upsertSql('exchanges', EXCHANGE_COLUMNS, ['id'], place)),
      this.db.prepare(upsertSql('messages', MESSAGE_COLUMNS, ['session_id', 'seq'], place)),
      turns.turn, turns.use, turns.result, turns.blob, new StreamWriter(this.db).stmt,
    ];
    const m = (c: string) => TABLES[T.message].columns.indexOf(c);
    const [session, seq, ts, direction, kind, method, payload] = ['session_id', 'seq', 'ts', 'direction', 'kind', 'method', 'payload'].map(m);
    const turnTs = TABLES[T.turn].columns.indexOf('ts');
    const row = (t: number, r: unknown[]) => {
      if (t === T.turn) {
        turns.turnRow(r);
        linker.turn(r[0] as string, r[turnTs] as number);
        return;
      }
      stmts[t].run(r);
      if (t === T.message && isCallRow(r[direction], r[kind], r[method])) linker.call(r[session] as string, r[seq] as number, r[ts] as number, String(r[payload]));
    };
    return (this.rowWriters = { row, linker });
  }

  private failed(batch: RecordBatch, err: Error): false {
    this.stats.failures++;
    this.streak++;
    this.stats.lastError = err.message;
    this.pending.restore(batch);
    this.stats.dropped += this.pending.trimMessages(this.maxBacklog);
    this.stats.pending = this.pending.size;
    if (!this.warned) {
      this.warned = true;
      this.opts.onWarning?.(`capture database write failed (${this.stats.lastError}); traffic keeps flowing, ${this.stats.pending} records held for retry`);
    }
    if (!this.closed) this.schedule();
    return false;
  }

  private written(total: number): true {
    this.streak = 0;
    this.stats.written += total;
    this.stats.pending = this.pending.size;
    this.opts.onWrite?.();
    if (this.warned) {
      this.warned = false;
      this.opts.onWarning?.('capture database writable again; backlog written');
    }
    return true;
  }

  /** Unwritten records, for a last-resort dump when the database never recovered. */
  backlog(): RecordBatch {
    const b = this.pending.take();
    this.pending.restore(b);
    return b;
  }

  close(): boolean {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closed = true;
    return this.flush();
  }
}
