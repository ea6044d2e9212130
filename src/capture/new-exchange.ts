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
 * A change the proxy made to what it passed on (a transform, or the intercept's edit), kept on the exchange,
 * redacted as any text is: a URL's key, or a secret anywhere in an edited message, in one pass.
 */
export function recordRewrite(ex: Exchange, redactor: Redactor, change: Rewrite): void {
  ex.rewrites.push({ kind: change.kind, before: change.before == null ? null : redactor.text(change.before), after: redactor.text(change.after) });
}
