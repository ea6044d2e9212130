import type { Exchange, RpcMessage, Session } from '../capture/model.js';
import type { Blob, Turn } from '../capture/turn.js';

export interface RecordBatch {
  sessions: Session[];
  exchanges: Exchange[];
  messages: RpcMessage[];
  /** Model API turns and the blobs they name (absent in batches from before turns existed). */
  turns?: Turn[];
  blobs?: Blob[];
}

/**
 * Records waiting to be written, keyed: an object updated again before it goes (a request learning
 * its response, a session's counters) is written once, in its latest state.
 */
export class PendingRecords {
  private sessions = new Map<string, Session>();
  private exchanges = new Map<string, Exchange>();
  private messages = new Map<string, RpcMessage>();
  private turns = new Map<string, Turn>();
  private blobs = new Map<string, Blob>();

  session(s: Session): void {
    this.sessions.set(s.id, s);
  }

  exchange(e: Exchange): void {
    this.exchanges.set(e.id, e);
  }

  message(m: RpcMessage): void {
    this.messages.set(m.sessionId + ':' + m.seq, m);
  }

  turn(t: Turn): void {
    this.turns.set(t.sessionId + ':' + t.seq, t);
  }

  blob(b: Blob): void {
    this.blobs.set(b.hash, b);
  }

  get size(): number {
    return this.sessions.size + this.exchanges.size + this.messages.size + this.turns.size + this.blobs.size;
  }

  get messageCount(): number {
    return this.messages.size;
  }

  /** Everything pending, in arrival order; the set is empty afterwards. */
  take(): RecordBatch {
    const batch: RecordBatch = { sessions: [...this.sessions.values()], exchanges: [...this.exchanges.values()], messages: [...this.messages.values()] };
    if (this.turns.size || this.blobs.size) {
      batch.turns = [...this.turns.values()];
      batch.blobs = [...this.blobs.values()];
    }
    this.sessions.clear();
    this.exchanges.clear();
    this.messages.clear();
    this.turns.clear();
    this.blobs.clear();
    return batch;
  }

  /** Puts back a batch that could not be written, under anything newer that arrived meanwhile. */
  restore(b: RecordBatch): void {
    const newer = this.take();
    this.add(b);
    this.add(newer);
  }

  add(b: RecordBatch): void {
    for (const s of b.sessions) this.session(s);
    for (const e of b.exchanges) this.exchange(e);
    for (const m of b.messages) this.message(m);
    for (const t of b.turns ?? []) this.turn(t);
    for (const x of b.blobs ?? []) this.blob(x);
  }

  /** Drops the oldest messages beyond `max`; returns how many. */
  trimMessages(max: number): number {
    let excess = this.messages.size - max;
    let dropped = 0;
    for (const k of this.messages.keys()) {
      if (excess-- <= 0) break;
      this.messages.delete(k);
      dropped++;
    }
    return dropped;
  }
}
