import type Database from 'better-sqlite3';
import type { Exchange, RpcMessage, Session } from '../model/model.js';
import { PendingRecords, type RecordBatch } from './pending.js';
import type { Blob, Turn } from '../capture/turn.js';
import { TurnWriter } from './turn-rows.js';
import { StreamWriter } from './stream-rows.js';
import type { StreamFacts } from '../capture/streams.js';
import { BIG_COLUMNS, TABLES, unpackBatch, unpackRows, type PackedBatch } from './packed.js';
import { isCallRow, ToolLinker } from './tool-links.js';
import {
  EXCHANGE_COLUMNS, MESSAGE_COLUMNS, SESSION_COLUMNS,
  exchangeToRow, messageToRow, sessionToRow, upsertSql,
} from './rows.js';

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
  private stmts: { session: Database.Statement; exchange: Database.Statement; message: Database.Statement } | null = null;
  private packedStmts: { session: Database.Statement; exchange: Database.Statement; message: Database.Statement } | null = null;

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

  private turnWriter: TurnWriter | null = null;
  private streamWriter: StreamWriter | null = null;

  stream(f: StreamFacts): void {
    this.pending.stream(f);
    this.schedule();
  }

  private toolLinker: ToolLinker | null = null;

  private get linker(): ToolLinker {
    return (this.toolLinker ??= new ToolLinker(this.db));
  }

  private writeModel(b: Pick<RecordBatch, 'turns' | 'blobs' | 'streams'>): void {
    if (b.streams?.length) {
      this.streamWriter ??= new StreamWriter(this.db);
      this.streamWriter.write(b.streams);
    }
    if (!b.turns?.length && !b.blobs?.length) return;
    this.turnWriter ??= new TurnWriter(this.db);
    this.turnWriter.write(b.turns ?? [], b.blobs ?? []);
    for (const t of b.turns ?? []) this.linker.turn(t.sessionId, t.ts);
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

  private prepare() {
    if (!this.stmts) {
      this.stmts = {
        session: this.db.prepare(upsertSql('sessions', SESSION_COLUMNS, ['id'])),
        exchange: this.db.prepare(upsertSql('exchanges', EXCHANGE_COLUMNS, ['id'])),
        message: this.db.prepare(upsertSql('messages', MESSAGE_COLUMNS, ['session_id', 'seq'])),
      };
    }
    return this.stmts;
  }

  /** Writes everything gathered so far. Returns false when the database refused the write. */
  flush(): boolean {
    const total = this.pending.size;
    if (total === 0) return true;
    const batch = this.pending.take();
    try {
      const stmts = this.prepare();
      this.db.transaction(() => {
        for (const s of batch.sessions) stmts.session.run(sessionToRow(s));
        for (const e of batch.exchanges) stmts.exchange.run(exchangeToRow(e));
        for (const m of batch.messages) {
          stmts.message.run(messageToRow(m));
          if (isCallRow(m.direction, m.kind, m.method)) this.linker.call(m.sessionId, m.seq, m.ts, m.payload);
        }
        this.writeModel(batch);
        this.toolLinker?.link();
      })();
    } catch (err) {
      this.toolLinker?.reset();
      return this.failed(batch, err as Error);
    }
    return this.written(total);
  }

  /**
   * Writes a batch packed by the proxy thread, binding its payload bytes as they are (no strings are
   * made of them here). Behind a backlog of failed writes it queues up instead, so order holds.
   */
  writePacked(p: PackedBatch, model: Pick<RecordBatch, 'turns' | 'blobs' | 'streams'> = {}): boolean {
    const modelCount = (model.turns?.length ?? 0) + (model.blobs?.length ?? 0) + (model.streams?.length ?? 0);
    if (p.count === 0 && modelCount === 0) return true;
    const whole = () => ({ ...unpackBatch(p), ...model });
    if (this.pending.size > 0) {
      this.pending.add(whole());
      return this.flush();
    }
    try {
      const stmts = this.preparePacked();
      const byTable = [stmts.session, stmts.exchange, stmts.message];
      // A zero-length blob binds as NULL; the empty string is what was captured.
      const bytes = (b: Buffer) => (b.length ? b : '');
      const at = (c: string) => TABLES[2].columns.indexOf(c);
      const [session, seq, ts, direction, kind, method, payload] = ['session_id', 'seq', 'ts', 'direction', 'kind', 'method', 'payload'].map(at);
      this.db.transaction(() => {
        for (const [t, row] of unpackRows(p, bytes)) {
          byTable[t].run(row);
          if (t === 2 && isCallRow(row[direction], row[kind], row[method])) this.linker.call(row[session] as string, row[seq] as number, row[ts] as number, String(row[payload]));
        }
        this.writeModel(model);
        this.toolLinker?.link();
      })();
    } catch (err) {
      this.toolLinker?.reset();
      return this.failed(whole(), err as Error);
    }
    return this.written(p.count + modelCount);
  }

  private preparePacked() {
    // Big text columns arrive as UTF-8 bytes: CAST stores them as the TEXT they are.
    const place = (c: string) => (BIG_COLUMNS.has(c) ? 'CAST(? AS TEXT)' : '?');
    this.packedStmts ??= {
      session: this.db.prepare(upsertSql('sessions', SESSION_COLUMNS, ['id'], place)),
      exchange: this.db.prepare(upsertSql('exchanges', EXCHANGE_COLUMNS, ['id'], place)),
      message: this.db.prepare(upsertSql('messages', MESSAGE_COLUMNS, ['session_id', 'seq'], place)),
    };
    return this.packedStmts;
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
