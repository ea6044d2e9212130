import type http from 'node:http';
import { header, mediaType } from '../model/headers.js';
import type { HeaderList } from '../model/model.js';

/** How long the head of an event stream may wait to go out together with the first event. */
export const STREAM_HEAD_WAIT_MS = 20;

/** Whether an answer with these headers is an event stream (the head policy and the server-side intercept apply). */
export function isEventStream(headers: HeaderList): boolean {
  return mediaType(header(headers, 'content-type')) === 'text/event-stream';
}

/**
 * The event-stream head policy. An SSE client must see its stream open before the first event arrives:
 * a standalone GET stream may stay quiet for minutes. When an event follows soon, the head waits for it
 * and both go out in one write (servers often send the head on its own; passing it on at once cost every
 * Streamable HTTP call a write and a wake-up of the client). `res.headersSent` cannot tell whether the
 * head went out: it is true from writeHead on.
 */
export function holdStreamHead(res: http.ServerResponse, upstream: http.IncomingMessage): void {
  const t = setTimeout(() => {
    if (!res.destroyed && !res.writableEnded) res.flushHeaders();
  }, STREAM_HEAD_WAIT_MS);
  t.unref();
  upstream.once('data', () => clearTimeout(t));
}
