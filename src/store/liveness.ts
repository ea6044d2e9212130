import type { Session } from '../model/model.js';

/** What the store knows of a session's traffic in time. */
export interface SessionSpan {
  /** The first and last message (epoch ms); null without messages. */
  firstAt: number | null;
  lastAt: number | null;
  /** The newest traffic of any kind: a message, an exchange's start or end. */
  lastTrafficAt: number;
  /** Exchanges without an end: an open event stream or WebSocket. */
  open: number;
}

/** Traffic this recent makes a session without an end live (prune keeps such sessions too). */
export const LIVE_MS = 60_000;
/**
 * An open connection keeps a session live only this long after its last traffic: past that, its
 * proxy most likely died without writing the end (or the session was imported mid-stream).
 */
export const OPEN_LIVE_MS = 10 * 60_000;

/** Live while its connections are open or it had traffic recently; an ended session never is. */
export function isLive(s: Session, span: SessionSpan | undefined, now = Date.now()): boolean {
  if (s.endedAt != null) return false;
  const last = span?.lastTrafficAt ?? s.startedAt;
  return now - last < LIVE_MS || (!!span && span.open > 0 && now - last < OPEN_LIVE_MS);
}

/** First to last message: not the proxy's lifetime, which a session that was never ended would get. */
export function sessionLength(s: Session, span: SessionSpan | undefined): number {
  if (!span || span.firstAt == null || span.lastAt == null) return 0;
  return Math.max(0, span.lastAt - Math.min(span.firstAt, s.startedAt));
}
