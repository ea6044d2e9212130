import type { Exchange, RpcMessage, Session } from '../capture/model.js';

export interface RecordBatch {
  sessions: Session[];
  exchanges: Exchange[];
  messages: RpcMessage[];
}

/**
 * Records waiting to be written, keyed: an object updated again before it goes (a request learning
 * its response, a session's counters) is written once, in its latest state.
 */
export class PendingRecords {
  private sessions = new Map<string, Session>();
  private exchanges = new Map<string, Exchange>();
  private messages = new Map<string, RpcMessage>();

  session(s: Session): void {
    this.sessions.set(s.id, s);
  }

  exchange(e: Exchange): void {
    this.exchanges.set(e.id, e);
  }

  message(m: RpcMessage): void {
    this.messages.set(m.sessionId + ':' + m.seq, m);
  }

  get size(): number {
    return this.sessions.size + this.exchanges.size + this.messages.size;
  }

  get messageCount(): number {
    return this.messages.size;
  }

  /** Everything pending, in arrival order; the set is empty afterwards. */
  take(): RecordBatch {
    const batch = { sessions: [...this.sessions.values()], exchanges: [...this.exchanges.values()], messages: [...this.messages.values()] };
    this.sessions.clear();
    this.exchanges.clear();
    this.messages.clear();
    return batch;
  }

  /** Puts back a batch that could not be written, under anything newer that arrived meanwhile. */
  restore(b: RecordBatch): void {
    const newer = this.take();
    for (const s of b.sessions) this.session(s);
    for (const e of b.exchanges) this.exchange(e);
    for (const m of b.messages) this.message(m);
    for (const s of newer.sessions) this.session(s);
    for (const e of newer.exchanges) this.exchange(e);
    for (const m of newer.messages) this.message(m);
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
