import type { Exchange, RpcMessage, Session } from '../model/model.js';
import type { Blob, Turn } from '../capture/turn.js';
import type { StreamFacts } from '../capture/streams.js';

export interface RecordBatch {
  sessions: Session[];
  exchanges: Exchange[];
  messages: RpcMessage[];
  /** Model API turns and the blobs they name (absent in batches from before turns existed). */
  turns?: Turn[];
  blobs?: Blob[];
  /** Stream facts, keyed by exchange (absent in batches from before they existed). */
  streams?: StreamFacts[];
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
  private streams = new Map<string, StreamFacts>();

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

  stream(f: StreamFacts): void {
    this.streams.set(f.exchangeId, f);
  }

  get size(): number {
    return this.sessions.size + this.exchanges.size + this.messages.size + this.turns.size + this.blobs.size + this.streams.size;
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
    // Copies: a stream's facts keep changing after they are taken, and a batch must hold what was sent.
    if (this.streams.size) batch.streams = [...this.streams.values()].map((f) => ({ ...f }));
    this.streams.clear();
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
    // Later batches carry later states: each replaces what an earlier one held (the newest wins, as for rows).
    for (const f of b.streams ?? []) this.stream(f);
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
