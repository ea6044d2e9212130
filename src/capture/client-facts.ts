import type { IncomingMessage } from 'node:http';
import { pairs } from '../model/headers.js';
import { legacySessionIdOf } from '../wire/legacy-endpoint.js';
import { HttpExchangeCapture, type CaptureContext } from './http-exchange.js';
import { newExchange } from './new-exchange.js';

/** Where the proxy sent a request: its own facts, not the request's. */
export interface HttpVia {
  /** The route's prefix or name (`connect` for a CONNECT tunnel): one client's sessions are told apart per route. */
  route: string;
  /** The URL as stored (the request's own; under forward mode, its path) and the upstream's URL for it. */
  url: string;
  upstreamUrl: string;
  /** When the proxy serves several upstreams: this one (the session's target, stored redacted) and its route's name (the label). */
  target: string | null;
  routeName: string | null;
}

/**
 * The capture of one HTTP request, begun where it arrives. The proxy hands over the request (its socket with
 * it) and, on the capture queue, where it went; the facts session identity is decided from
 * (SessionTracker.assign) are read here: the client (route, address, User-Agent), its connection and the
 * legacy sessionId its URL carries. Only what could vanish with the socket is read on the forwarding path.
 */
export function startHttpCapture(req: IncomingMessage, startedAt: number): (ctx: CaptureContext, via: HttpVia) => HttpExchangeCapture {
  const { remoteAddress, remotePort } = req.socket;
  const url = req.url ?? '/';
  return (ctx, via) => {
    const raw = pairs(req.rawHeaders);
    const r = ctx.redactor;
    const clientAddress = remoteAddress ? `${remoteAddress}:${remotePort}` : null;
    const ex = newExchange({ kind: 'http', method: req.method ?? 'GET', url: r.url(via.url), upstreamUrl: r.url(via.upstreamUrl), requestHeaders: r.headers(raw), startedAt, clientAddress });
    const clientKey = `${via.route}|${remoteAddress ?? ''}|${req.headers['user-agent'] ?? ''}`;
    // A route's upstream URL can hold a key (`/api/mcp/<key>/mcp`).
    return new HttpExchangeCapture(ctx, ex, raw, clientKey, legacySessionIdOf(url), via.target === null ? null : r.url(via.target), via.routeName);
  };
}
