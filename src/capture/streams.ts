import type { CaptureHub } from './hub.js';
import type { Exchange } from '../model/model.js';
import { header } from '../model/headers.js';

/** What carried a stream: a POST's SSE answer, a GET stream (standalone or legacy), a WebSocket, a stdio child. */
export type StreamCarrier = 'post-sse' | 'get-sse' | 'websocket' | 'stdio';

/** Who ended a stream first; `proxy` when mcptap was shut down under it. */
export type StreamCloser = 'client' | 'server' | 'proxy';

/**
 * The facts of one stream (an event-stream response, a WebSocket connection, a stdio child's stdout),
 * keyed by its exchange. Keep-alives (SSE comments, empty or `ping` events, WebSocket pings and pongs)
 * are activity on the stream but carry no message.
 */
export interface StreamFacts {
  exchangeId: string;
  sessionId: string | null;
  carrier: StreamCarrier;
  /** Epoch ms. */
  openedAt: number;
  firstByteAt: number | null;
  /** The last event that carried a message. */
  lastEventAt: number | null;
  /** The last byte of any kind from the server's side (keep-alives included). */
  lastActivityAt: number | null;
  /** Events (SSE events, WebSocket data messages, stdout lines) that carried a message. */
  events: number;
  keepAlives: number;
  /** Bytes from the server's side, as on the wire. */
  bytes: number;
  /** The longest time without any byte from the server's side, up to now or to the close. */
  longestSilenceMs: number;
  closedAt: number | null;
  closedBy: StreamCloser | null;
  /** The `Last-Event-ID` the client sent to open it: a resumption. */
  resumedFrom: string | null;
}

/**
 * Keeps the facts of every open stream and publishes them on the hub (`stream`) as they change. Runs on
 * the capture queue like the rest of the capture; a stream's facts are published at most once per
 * PUBLISH_MS of activity (and always on open and close), so a busy stream costs no row per event.
 */
export class StreamTracker {
  private readonly open = new Map<string, OpenStream>();
  /** Streams with activity not yet published, and the timer that will publish it. */
  private readonly dirty = new Set<OpenStream>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly hub: CaptureHub) {}

  /** A stream begins: its response head (SSE), its upgrade (WebSocket) or its start (stdio). */
  opened(ex: Exchange, carrier: StreamCarrier, at: number): void {
    if (this.open.has(ex.id)) return;
    const facts: StreamFacts = {
      exchangeId: ex.id, sessionId: ex.sessionId, carrier, openedAt: ex.startedAt, firstByteAt: null,
      lastEventAt: null, lastActivityAt: null, events: 0, keepAlives: 0, bytes: 0, longestSilenceMs: 0,
      closedAt: null, closedBy: null, resumedFrom: header(ex.requestHeaders, 'last-event-id') ?? null,
    };
    this.open.set(ex.id, { facts, ex, publishedAt: at });
    this.hub.emit('stream', facts);
  }

  /** Bytes from the server's side. */
  bytes(exchangeId: string, n: number, at: number): void {
    const s = this.open.get(exchangeId);
    if (!s) return;
    const f = s.facts;
    f.firstByteAt ??= at;
    f.longestSilenceMs = Math.max(f.longestSilenceMs, at - (f.lastActivityAt ?? f.openedAt));
    f.lastActivityAt = at;
    f.bytes += n;
    this.maybePublish(s, at);
  }

  /** An event that carried a message (`message`) or none (`keepalive`). */
  event(exchangeId: string, what: 'message' | 'keepalive', at: number): void {
    const s = this.open.get(exchangeId);
    if (!s) return;
    if (what === 'message') {
      s.facts.events++;
      s.facts.lastEventAt = at;
    } else s.facts.keepAlives++;
    this.maybePublish(s, at);
  }

  closed(exchangeId: string, by: StreamCloser | null, at: number): void {
    const s = this.open.get(exchangeId);
    if (!s) return;
    this.open.delete(exchangeId);
    this.dirty.delete(s);
    const f = s.facts;
    f.closedAt = at;
    f.closedBy = by;
    f.longestSilenceMs = Math.max(f.longestSilenceMs, at - (f.lastActivityAt ?? f.openedAt));
    f.sessionId = s.ex.sessionId;
    this.hub.emit('stream', f);
  }

  /** The proxy is stopping: every stream still open was ended by it, not by either peer. */
  stopAll(at: number): void {
    for (const id of [...this.open.keys()]) this.closed(id, 'proxy', at);
  }

  private maybePublish(s: OpenStream, at: number): void {
    // The session is known only once the exchange is assigned; the first publish after that carries it.
    const assigned = s.facts.sessionId == null && s.ex.sessionId != null;
    if (!assigned && at - s.publishedAt < PUBLISH_MS) {
      // The last activity before a silence must reach the store too: that silence is what is looked at.
      this.dirty.add(s);
      this.timer ??= setTimeout(() => this.publishDirty(), PUBLISH_MS);
      this.timer.unref?.();
      return;
    }
    this.publish(s, at);
  }

  private publish(s: OpenStream, at: number): void {
    this.dirty.delete(s);
    s.facts.sessionId = s.ex.sessionId;
    s.publishedAt = at;
    this.hub.emit('stream', s.facts);
  }

  private publishDirty(): void {
    this.timer = null;
    for (const s of [...this.dirty]) if (this.open.has(s.facts.exchangeId)) this.publish(s, s.facts.lastActivityAt ?? s.publishedAt);
    this.dirty.clear();
  }
}

interface OpenStream {
  facts: StreamFacts;
  ex: Exchange;
  publishedAt: number;
}

/** Open streams republish their facts at most this often (the in-flight view reads them). */
const PUBLISH_MS = 250;
