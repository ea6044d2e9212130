import type { RpcId } from '../model/model.js';
import type { Recording } from './recording.js';

const enc = (id: unknown) => (typeof id === 'string' ? 's:' + id : 'n:' + String(id));

/** A request the live server sent the replay client. */
export interface LiveRequest {
  id: unknown;
  method: string;
  params: unknown;
}

/** What the live server has sent so far, and a way to wait for more. */
export class LiveState {
  private readonly counts = new Map<string, number>();
  private readonly answered = new Set<string>();
  /** Server requests not answered yet, oldest first. */
  readonly requests: LiveRequest[] = [];
  private waiters: Array<() => void> = [];

  count(method: string): void {
    this.counts.set(method, (this.counts.get(method) ?? 0) + 1);
    this.wake();
  }

  seen(method: string): number {
    return this.counts.get(method) ?? 0;
  }

  request(r: LiveRequest): void {
    this.requests.push(r);
    this.count(r.method);
  }

  pending(method: string): number {
    return this.requests.filter((r) => r.method === method).length;
  }

  /** Takes the oldest unanswered server request with this method, or null. */
  take(method: string): LiveRequest | null {
    const i = this.requests.findIndex((r) => r.method === method);
    return i < 0 ? null : this.requests.splice(i, 1)[0];
  }

  /** Waits (up to ms) for a server request with this method, and takes it. */
  async waitFor(method: string, ms: number): Promise<LiveRequest | null> {
    const end = performance.now() + ms;
    for (;;) {
      const r = this.take(method);
      if (r || performance.now() >= end) return r;
      await this.change(end - performance.now());
    }
  }

  /** A request was sent (again): its answer is owed anew. */
  sent(id: RpcId): void {
    this.answered.delete(enc(id));
  }

  answer(id: unknown): void {
    this.answered.add(enc(id));
    this.wake();
  }

  isAnswered(id: RpcId): boolean {
    return this.answered.has(enc(id));
  }

  /** Resolves on the next message from the server (or after ms). */
  change(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(0, ms));
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/**
 * Before each step, the replay waits for what the recorded client had received by then: the answers
 * to its earlier requests and as many of each server notification and request. What does not come
 * within the timeout is noted as missing and not waited for again. Steps come in recorded order, so
 * the recorded messages are taken in once each, as the replay passes them.
 */
export class Expectations {
  private readonly requests: Array<{ id: RpcId; method: string; answerSeq: number }> = [];
  private readonly serverMessages: Array<{ seq: number; method: string }> = [];
  private nextRequest = 0;
  private nextMessage = 0;
  /** Requests whose recorded answer came before the current step, not yet answered live. */
  private due: Array<{ id: RpcId; method: string }> = [];
  /** How many of each server message the live server owes (recorded so far, less what was given up on). */
  private readonly want = new Map<string, number>();

  /**
   * `waiting` hears, once a wait has lasted a second, what the replay is waiting for and how long it
   * will: a silent 10-second timeout reads as a hang.
   */
  constructor(rec: Recording, private readonly live: LiveState, private readonly timeoutMs: number, private readonly missing: string[], private readonly waiting: (what: string) => void = () => {}) {
    for (const m of rec.messages) {
      if (m.direction === 'client->server' && m.kind === 'request' && m.rpcId != null && m.correlatedSeq != null) {
        this.requests.push({ id: m.rpcId, method: m.method ?? '?', answerSeq: m.correlatedSeq });
      } else if (m.direction === 'server->client' && (m.kind === 'notification' || m.kind === 'request') && m.method) {
        this.serverMessages.push({ seq: m.seq, method: m.method });
      }
    }
    this.requests.sort((a, b) => a.answerSeq - b.answerSeq);
  }

  /** Waits for the answer to one request (the session cannot go on before initialize is answered). */
  async answerTo(id: RpcId): Promise<void> {
    const end = performance.now() + this.timeoutMs;
    while (!this.live.isAnswered(id) && performance.now() < end) await this.live.change(end - performance.now());
  }

  /** Waits for what the recorded server had sent before position `pos` (a seq; Infinity for all of it). */
  async before(pos: number): Promise<void> {
    while (this.nextRequest < this.requests.length && this.requests[this.nextRequest].answerSeq < pos) this.due.push(this.requests[this.nextRequest++]);
    while (this.nextMessage < this.serverMessages.length && this.serverMessages[this.nextMessage].seq < pos) {
      const m = this.serverMessages[this.nextMessage++].method;
      this.want.set(m, (this.want.get(m) ?? 0) + 1);
    }
    const start = performance.now();
    const end = start + this.timeoutMs;
    let told = false;
    for (;;) {
      this.due = this.due.filter((r) => !this.live.isAnswered(r.id));
      const short = [...this.want].filter(([m, n]) => n > this.live.seen(m));
      if (!this.due.length && !short.length) return;
      if (!told && performance.now() - start >= 1000) {
        told = true;
        const what = [...this.due.map((r) => `the answer to ${r.method} (id ${JSON.stringify(r.id)})`), ...short.map(([m, n]) => `${n - this.live.seen(m)} × ${m} from the server`)];
        this.waiting(`waiting up to ${Math.round(this.timeoutMs / 1000)}s for ${what.join(', ')}`);
      }
      const now = performance.now();
      const left = end - now;
      if (left <= 0) {
        for (const r of this.due) this.missing.push(`an answer to ${r.method} (id ${JSON.stringify(r.id)})`);
        this.due = [];
        for (const [m, n] of short) {
          this.missing.push(`${n - this.live.seen(m)} × ${m} from the server`);
          this.want.set(m, this.live.seen(m));
        }
        return;
      }
      await this.live.change(told ? left : Math.max(1, Math.min(left, start + 1000 - now)));
    }
  }
}
