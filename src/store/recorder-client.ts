import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { Exchange, RpcMessage, Session } from '../model/model.js';
import type { Blob, Turn } from '../capture/turn.js';
import type { StreamFacts } from '../capture/streams.js';
import { packBatch } from './packed.js';
import { PendingRecords, type RecordBatch } from './pending.js';
import type { RecorderStats } from './recorder.js';
import type { FromWorker, ToWorker } from './recorder-worker.js';

type Backlog = RecordBatch;

/** Payload bytes kept per message while the database is behind. */
const CUT_TO = 4096;

/** Payload bytes gathered that make a batch go at once rather than on the timer. */
const SEND_AT = 256 * 1024;
/** Text buffers up to this size are reused. */
const SPARE_MAX = 1024 * 1024;
/**
 * Payload characters of batches sent and not yet in the database that are kept for the rescue file, in
 * case the database thread dies with them. Past it the oldest are let go (counted in stats.dropped).
 */
const UNSTORED_MAX = 64 * 1024 * 1024;

/** The worker script; tests run this file from src/, where only the built copy of the worker exists. */
function workerUrl(): URL {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return new URL('../../dist/src/store/recorder-worker.js', import.meta.url);
  return new URL('./recorder-worker.js', import.meta.url);
}

/**
 * The proxy's side of the recorder: gathers model objects (keyed, so an object updated twice before
 * it is sent goes once) and hands them to the database thread every 100 ms (bigger transactions cost
 * the database thread less per row: each commit writes the pages it touched once), or as soon as
 * a quarter megabyte of payload has gathered: under a fast stream, payloads then die young instead of
 * piling up in the heap. Batches travel packed in one transferred buffer (see packed.ts), every record
 * kind alike, and each is kept until the thread says it is stored.
 */
export class RecorderClient {
  private readonly worker: Worker;
  private readonly pending = new PendingRecords();
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Immediate | null = null;
  /** Text buffers back from the database thread, for the next batches. */
  private spare: ArrayBuffer[] = [];
  /** Payload characters gathered since the last batch went. */
  private gathered = 0;
  private acks = new Map<number, (m: Extract<FromWorker, { type: 'ack' }>) => void>();
  private nextAck = 1;
  private dead: Backlog | null = null;
  /** Batches sent to the database thread that it has not yet stored, oldest first. */
  private unstored: Array<{ seq: number; batch: RecordBatch; chars: number }> = [];
  private unstoredChars = 0;
  private nextSeq = 1;
  private closing = false;
  stats: RecorderStats = { written: 0, pending: 0, failures: 0, dropped: 0, lastError: null };
  /** Bytes posted to the database thread and not yet taken by it. */
  private inflight = 0;
  private overloaded = false;
  /** Payloads stored cut because the database fell behind the traffic. */
  cut = 0;

  constructor(file: string, private readonly onWarning: (m: string) => void, private readonly intervalMs = 100, private readonly maxInflight = 24 * 1024 * 1024) {
    this.worker = new Worker(workerUrl(), { workerData: { file } });
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'warning') this.onWarning(m.message);
      else if (m.type === 'stats') {
        this.stats = m.stats;
        this.stored(m.stored);
      }
      else if (m.type === 'taken') {
        this.inflight -= m.bytes;
        this.keep(m.buffer);
        if (this.overloaded && this.inflight < this.maxInflight / 4) {
          this.overloaded = false;
          this.onWarning(`capture database caught up; ${this.cut} payloads were stored cut to ${CUT_TO} bytes meanwhile (marked truncated)`);
        }
      }
      else {
        this.stats = m.stats;
        this.acks.get(m.id)?.(m);
        this.acks.delete(m.id);
      }
    });
    this.worker.on('error', (err) => this.died(err.message));
    this.worker.on('exit', (code) => {
      if (!this.closing) this.died(`it exited with code ${code}`);
    });
    this.worker.unref();
  }

  /** The database thread is gone: what it had not stored, and all that comes after, is kept for close() to rescue. */
  private died(why: string): void {
    if (this.dead) return;
    this.dead = { sessions: [], exchanges: [], messages: [] };
    for (const u of this.unstored) this.keepDead(u.batch);
    this.unstored = [];
    this.unstoredChars = 0;
    this.onWarning(`capture database thread failed (${why}); traffic keeps flowing, captures are kept in memory until shutdown`);
    for (const ack of this.acks.values()) ack({ type: 'ack', id: 0, ok: false, stats: this.stats });
    this.acks.clear();
  }

  private keepDead(batch: RecordBatch): void {
    const d = this.dead!;
    d.sessions.push(...batch.sessions);
    d.exchanges.push(...batch.exchanges);
    d.messages.push(...batch.messages);
    if (batch.turns) (d.turns ??= []).push(...batch.turns);
    if (batch.blobs) (d.blobs ??= []).push(...batch.blobs);
    if (batch.streams) (d.streams ??= []).push(...batch.streams);
  }

  /** Batches up to `seq` are in the database: no longer kept for a rescue. */
  private stored(seq: number): void {
    let n = 0;
    while (n < this.unstored.length && this.unstored[n].seq <= seq) this.unstoredChars -= this.unstored[n++].chars;
    if (n) this.unstored.splice(0, n);
  }

  private keepUnstored(seq: number, batch: RecordBatch, chars: number): void {
    this.unstored.push({ seq, batch, chars });
    this.unstoredChars += chars;
    while (this.unstoredChars > UNSTORED_MAX && this.unstored.length > 1) this.unstoredChars -= this.unstored.shift()!.chars;
  }

  session(s: Session): void {
    this.pending.session(s);
    this.schedule();
  }

  exchange(e: Exchange): void {
    this.pending.exchange(e);
    this.gathered += (e.requestBody?.length ?? 0) + (e.responseBody?.length ?? 0);
    this.schedule();
  }

  message(m: RpcMessage): void {
    // When traffic outruns the disk, memory would grow without bound: keep every message, but cut
    // big payloads (flagged truncated) until the database catches up. Forwarding never waits.
    if (this.overloaded && m.payload.length > CUT_TO) {
      this.cut++;
      this.pending.message({ ...m, payload: m.payload.slice(0, CUT_TO), truncated: true });
    } else this.pending.message(m);
    this.gathered += m.payload.length;
    this.schedule();
  }

  turn(t: Turn): void {
    this.pending.turn(t);
    this.gathered += t.text.length + t.toolResults.reduce((n, r) => n + r.text.length, 0);
    this.schedule();
  }

  stream(f: StreamFacts): void {
    this.pending.stream(f);
    this.schedule();
  }

  blob(b: Blob): void {
    this.pending.blob(b);
    this.gathered += b.text.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.gathered >= SEND_AT && !this.soon) {
      this.soon = setImmediate(() => {
        this.soon = null;
        this.send();
      });
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.send();
    }, this.intervalMs);
    this.timer.unref();
  }

  private keep(b: ArrayBuffer): void {
    // A few of batch size: enough for the batches in flight at a steady rate. A rare big one (a
    // stream's whole stored body) is left to the GC rather than kept for good.
    if (b.byteLength === 0 || b.byteLength > SPARE_MAX || this.spare.length >= 4) return;
    this.spare.push(b);
  }

  private buffer = (n: number): ArrayBuffer => {
    const i = this.spare.findIndex((b) => b.byteLength >= n);
    if (i >= 0) return this.spare.splice(i, 1)[0];
    // Whole 64 KB steps, so that a slightly bigger batch next time still fits.
    return new ArrayBuffer(n === 0 ? 0 : Math.ceil(n / 65536) * 65536);
  };

  private send(): void {
    const chars = this.gathered;
    this.gathered = 0;
    if (!this.pending.size) return;
    const batch = this.pending.take();
    if (this.dead) return this.keepDead(batch);
    const seq = this.nextSeq++;
    this.keepUnstored(seq, batch, chars);
    const packed = packBatch(batch, this.buffer);
    const bytes = packed.length;
    this.inflight += bytes;
    if (!this.overloaded && this.inflight > this.maxInflight) {
      this.overloaded = true;
      this.onWarning(`capture database is ${Math.round(this.inflight / 1048576)} MB behind the traffic; payloads over ${CUT_TO} bytes are stored cut until it catches up`);
    }
    this.worker.postMessage({ type: 'batch', seq, batch: packed, bytes } satisfies ToWorker, [packed.buffer]);
  }

  private request(type: 'flush' | 'close'): Promise<Extract<FromWorker, { type: 'ack' }>> {
    if (this.dead) return Promise.resolve({ type: 'ack', id: 0, ok: false, stats: this.stats, backlog: this.dead });
    const id = this.nextAck++;
    // While an answer is awaited the thread must keep the process alive (at shutdown nothing else does).
    this.worker.ref();
    return new Promise((resolve) => {
      this.acks.set(id, (m) => {
        if (this.acks.size <= 1) this.worker.unref();
        resolve(m);
      });
      this.worker.postMessage({ type, id } satisfies ToWorker);
    });
  }

  /** Sends what is gathered and waits until the database has it. False when the write failed. */
  async flush(): Promise<boolean> {
    if (this.timer) clearTimeout(this.timer);
    if (this.soon) clearImmediate(this.soon);
    this.timer = null;
    this.soon = null;
    this.send();
    return (await this.request('flush')).ok;
  }

  /** Writes the rest and stops the thread; returns what the database would not take. */
  async close(): Promise<Backlog | null> {
    if (this.timer) clearTimeout(this.timer);
    if (this.soon) clearImmediate(this.soon);
    this.timer = null;
    this.soon = null;
    this.send();
    const ack = await this.request('close');
    this.closing = true;
    await this.worker.terminate();
    if (ack.ok) return null;
    return ack.backlog ?? this.dead ?? { sessions: [], exchanges: [], messages: [] };
  }
}
