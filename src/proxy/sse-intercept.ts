import type { Rewrite } from '../model/model.js';
import { legacySessionIdOf } from '../wire/legacy-endpoint.js';
import type { Interceptor } from './intercept.js';

// --hold with dir:s2c on an event stream: the server's bytes are cut at event boundaries (a blank
// line); an event whose data is a JSON-RPC message that matches is held, and the events after it wait
// behind it, so the client sees them in the order the server sent them. Events that match nothing are
// written on as they came, byte for byte. A legacy SSE stream (its `endpoint` event names the session)
// also takes the answers given by hand to its client's held POSTs, written as the server writes its own:
// an `event: message` between two of the server's events.

export const SERVER_NO_ANSWER = 'is a server message: it is the answer itself';

/** The end of the first whole event in `b` (after its blank line), or -1. */
function eventEnd(b: Buffer): number {
  const lf = b.indexOf('\n\n');
  const crlf = b.indexOf('\r\n\r\n');
  if (lf < 0 && crlf < 0) return -1;
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4;
  return lf + 2;
}

/** The data of an event: its `data:` lines joined, as an EventSource gives it. */
function dataOf(event: string): string {
  return event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
}

/** The event with its data replaced by `data` (its other fields, `event:` and `id:`, kept). */
function withData(event: string, data: string): string {
  const eol = event.includes('\r\n') ? '\r\n' : '\n';
  const fields = event.split(/\r?\n/).filter((l) => l && !l.startsWith('data:'));
  return [...fields, `data: ${data}`].join(eol) + eol + eol;
}

/** An event the gate lets go of: the server's (matched against the filter), or an answer given by hand. */
interface Pending {
  bytes: Buffer;
  injected: string | null;
}

export class SseEventGate {
  private buf: Buffer = Buffer.alloc(0);
  private holding: number | null = null;
  private waiting: Pending[] = [];
  private ended = false;
  private closed = false;
  /** The legacy session this stream carries, once its endpoint event has gone by. */
  private unregister: (() => void) | null = null;

  constructor(
    private readonly interceptor: Interceptor,
    private readonly route: string,
    private readonly write: (bytes: Buffer) => void,
    private readonly end: () => void,
    private readonly record: (change: Rewrite) => void,
    /** A message written here that the server did not send (the capture records it). */
    private readonly injected: (text: string) => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (let n = eventEnd(this.buf); n >= 0; n = eventEnd(this.buf)) {
      const event = Buffer.from(this.buf.subarray(0, n));
      this.buf = this.buf.subarray(n);
      this.event({ bytes: event, injected: null });
    }
  }

  /** Writes a message on the stream as its server would (after any event held now); false once the stream is gone. */
  inject(text: string): boolean {
    if (this.closed || this.ended) return false;
    this.event({ bytes: Buffer.from(`event: message\ndata: ${text}\n\n`), injected: text });
    return true;
  }

  /** The stream ended: what is left goes once nothing is held. */
  finish(): void {
    this.ended = true;
    this.unregister?.();
    if (this.holding == null) this.flushEnd();
  }

  /** The client went: a held event leaves the held list. */
  close(): void {
    this.closed = true;
    this.unregister?.();
    if (this.holding != null) this.interceptor.abandon(this.holding);
  }

  private flushEnd(): void {
    if (this.buf.length) this.write(this.buf);
    this.buf = Buffer.alloc(0);
    this.end();
  }

  private event(p: Pending): void {
    if (this.holding != null) return void this.waiting.push(p);
    const e = p.bytes;
    if (p.injected != null) {
      this.write(e);
      return this.injected(p.injected);
    }
    const text = e.toString('utf8');
    const data = dataOf(text);
    if (!this.unregister && /^event:\s*endpoint\s*$/m.test(text)) {
      const id = legacySessionIdOf(data);
      if (id) this.unregister = this.interceptor.openLegacyStream(id, (t) => this.inject(t));
    }
    const m = data ? this.interceptor.matchingServer(data) : null;
    if (!m) return this.write(e);
    const { id, verdict } = this.interceptor.hold(data, m, this.route, SERVER_NO_ANSWER, 'server->client', 'event');
    this.holding = id;
    void verdict.then((v) => {
      if (v.kind === 'forward' && v.edited) {
        this.record({ kind: 'intercept-server-edit', before: data, after: v.body });
        this.write(Buffer.from(withData(text, v.body)));
      } else if (v.kind === 'forward') this.write(e);
      this.holding = null;
      const after = this.waiting;
      this.waiting = [];
      for (const x of after) this.event(x);
      if (this.ended && this.holding == null) this.flushEnd();
    });
  }
}
