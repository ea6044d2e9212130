import { newExchangeId } from '../model/ids.js';
import type { Exchange, HeaderList, Rewrite } from '../model/model.js';
import type { Redactor } from './redact.js';

/** What is known of an exchange when it starts; the rest fills in as it goes. */
export type ExchangeStart = Pick<Exchange, 'kind' | 'method' | 'url' | 'upstreamUrl' | 'requestHeaders' | 'startedAt' | 'clientAddress'>;

/** A new exchange with nothing happened yet: HTTP, WebSocket and stdio capture all start from this one shape. */
export function newExchange(start: ExchangeStart): Exchange {
  return {
    id: newExchangeId(),
    sessionId: null,
    kind: start.kind,
    method: start.method,
    url: start.url,
    upstreamUrl: start.upstreamUrl,
    status: null,
    requestHeaders: start.requestHeaders,
    responseHeaders: null,
    startedAt: start.startedAt,
    firstByteAt: null,
    endedAt: null,
    requestBytes: 0,
    responseBytes: 0,
    requestBody: null,
    responseBody: null,
    requestTruncated: false,
    responseTruncated: false,
    failure: null,
    aborted: false,
    closedBy: null,
    rewrites: [],
    clientAddress: start.clientAddress,
  };
}

/** The response head arrived (or the WebSocket upgrade's answer): status, when, and its headers redacted. */
export function recordHead(ex: Exchange, redactor: Redactor, status: number, headers: HeaderList, at: number): void {
  ex.status = status;
  ex.firstByteAt = at;
  ex.responseHeaders = redactor.headers(headers);
}

/**
 * A change the proxy made to what it passed on (a transform, or the intercept's edit), kept on the exchange:
 * URLs in it redacted; an intercepted message may hold secrets anywhere, so it is scrubbed as bodies are.
 */
export function recordRewrite(ex: Exchange, redactor: Redactor, change: Rewrite): void {
  const scrub = change.kind.startsWith('intercept-') ? (t: string) => redactor.text(redactor.urls(t)) : (t: string) => redactor.urls(t);
  ex.rewrites.push({ kind: change.kind, before: change.before == null ? null : scrub(change.before), after: scrub(change.after) });
}
