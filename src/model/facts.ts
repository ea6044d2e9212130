// What happened to an exchange or a message, as data: the capture records these, the rules read their
// kinds, and every text people see (show, the TUI, check explanations, exports, x-mcptap-error) is
// rendered from them here. Nothing parses these sentences back.

/** Which side of an exchange a fact is about. */
export type Side = 'client' | 'server';

/**
 * Why an exchange did not complete as HTTP (or WebSocket, or a process) would have it; the first thing
 * that went wrong. Values are redacted like the rest of the exchange.
 */
export type Failure =
  /** No answer from the upstream: refused, reset or timed out before a response head, DNS, TLS. The proxy answered 502. */
  | { kind: 'upstream-unreachable'; code: string; message: string }
  /** The body stopped before its end: the upstream dropped the connection mid-response (`code` when the socket said why). */
  | { kind: 'body-cut'; body: 'request' | 'response'; by: Side; code: string | null }
  /** The client went away before the exchange completed. */
  | { kind: 'client-aborted' }
  /** The upstream answered a WebSocket upgrade with something other than 101. */
  | { kind: 'upgrade-refused'; status: number }
  /** A body the capture could not decode (an unknown or broken Content-Encoding); it went through untouched. */
  | { kind: 'decoding-failed'; body: 'request' | 'response'; detail: string }
  /** A WebSocket peer sent frames that break RFC 6455 (the reader stopped there; the relay did not). */
  | { kind: 'bad-frames'; from: Side; detail: string }
  /** A wrapped stdio server exited with a non-zero code. */
  | { kind: 'process-exited'; code: number }
  /** A wrapped stdio server was killed by a signal. */
  | { kind: 'process-killed'; signal: string }
  /** A wrapped stdio server could not be started. */
  | { kind: 'process-not-started'; detail: string }
  /** Forward mode: the upstream's TLS certificate was refused (self-signed, expired, another name, unknown CA). The proxy answered 502. */
  | { kind: 'upstream-tls'; code: string; host: string; subject: string; issuer: string; validFrom: string; validTo: string }
  /** Forward mode: the client refused mcptap's certificate (it does not trust mcptap's CA), or spoke no TLS in a tunnel. */
  | { kind: 'client-tls-refused'; host: string; detail: string }
  /** Recorded by an older mcptap in words this one does not recognise: the words, as they were. */
  | { kind: 'other'; detail: string };

export type FailureKind = Failure['kind'];

/** The kinds of change the proxy makes to what it passes on (see src/proxy/transforms.ts). */
export type RewriteKind =
  /** `--gateway-debug`: the request header `x-litellm-mcp-debug: true` added. */
  | 'gateway-debug-header'
  /** A legacy SSE stream's `endpoint` event moved onto the proxy. */
  | 'sse-endpoint'
  /** A redirect's Location on the upstream's origin moved onto the proxy. */
  | 'location'
  /** A 401's `WWW-Authenticate: … resource_metadata="…"` moved onto the proxy. */
  | 'oauth-challenge'
  /** A protected-resource metadata document's `resource` moved onto the proxy. */
  | 'oauth-resource'
  /** `--hold`: a held client message sent on as the user edited it (before: as the client sent it). */
  | 'intercept-edit'
  /** `--hold` with dir:s2c: a held server message (an answer, event or frame) sent on as the user edited it (before: as the server sent it). */
  | 'intercept-server-edit'
  /** `--hold`: a held request answered by the user in the server's place (after: the answer). */
  | 'intercept-answer'
  /** `--hold` with dir:s2c: a held JSON answer dropped, the client answered 502 instead (before: the answer; after: what the client got). */
  | 'intercept-drop'
  /** Recorded by an older mcptap in words this one does not recognise (`after` holds them). */
  | 'other';

/** One change the proxy made; an exchange may carry several. `before` is null for something added. Redacted. */
export interface Rewrite {
  kind: RewriteKind;
  before: string | null;
  after: string;
}

/**
 * Why a message is `non-json` or `invalid`:
 * - `not-json`: the text does not parse (detail: the parser's words)
 * - `over-limit`: a line too long to decode, stored cut (detail: its size and the limit)
 * - `invalid-jsonrpc`: JSON, but not JSON-RPC 2.0 (detail: which rule it breaks)
 * - `unread-sse-event`: JSON-RPC sent under an SSE event name clients do not read (detail: the name)
 * - `unfinished-sse-event`: an SSE event the stream ended inside, before the blank line that dispatches it;
 *   clients drop it unread (detail: its size)
 * - `other`: recorded by an older mcptap in words this one does not recognise (detail: the words)
 */
export interface DecodeError {
  kind: 'not-json' | 'over-limit' | 'invalid-jsonrpc' | 'unread-sse-event' | 'unfinished-sse-event' | 'other';
  detail: string;
}

/** One line for a failure, as `show`, the TUI and exports print it. */
export function failureText(f: Failure): string {
  switch (f.kind) {
    case 'upstream-unreachable': return `${f.code}: ${f.message}`;
    case 'body-cut':
      return f.body === 'response' && f.by === 'server'
        ? `upstream closed the connection mid-response${f.code ? ` (${f.code})` : ''}`
        : `${f.by} cut the ${f.body} body short${f.code ? ` (${f.code})` : ''}`;
    case 'client-aborted': return 'client went away';
    case 'upgrade-refused': return `WebSocket upgrade refused with ${f.status}`;
    case 'decoding-failed': return `${f.body} body not decoded: ${f.detail}`;
    case 'bad-frames': return `${f.from} frames: ${f.detail}`;
    case 'process-exited': return `exited with code ${f.code}`;
    case 'process-killed': return `killed by ${f.signal}`;
    case 'process-not-started': return `failed to start: ${f.detail}`;
    case 'upstream-tls': return `the certificate of ${f.host} was refused (${f.code}): subject ${f.subject || '?'}, issuer ${f.issuer || '?'}, valid ${f.validFrom || '?'} to ${f.validTo || '?'}`;
    case 'client-tls-refused': return `the client did not complete TLS with mcptap's certificate for ${f.host}: ${f.detail}`;
    case 'other': return f.detail;
  }
}

/** What the proxy changed, in one phrase (`location A → B`). */
export function rewriteText(r: Rewrite): string {
  switch (r.kind) {
    case 'gateway-debug-header': return `request header ${r.after} added (--gateway-debug)`;
    case 'sse-endpoint': return `endpoint ${r.before} → ${r.after}`;
    case 'location': return `location ${r.before} → ${r.after}`;
    case 'oauth-challenge': return `www-authenticate resource_metadata ${r.before} → ${r.after}`;
    case 'oauth-resource': return `oauth resource ${r.before} → ${r.after}`;
    case 'intercept-edit': return `client message edited at the intercept: ${r.before} → ${r.after}`;
    case 'intercept-server-edit': return `server message edited at the intercept: ${r.before} → ${r.after}`;
    case 'intercept-answer': return `answered at the intercept: ${r.after}`;
    case 'intercept-drop': return `${r.after}: ${r.before}`;
    case 'other': return r.after;
  }
}

export function rewritesText(list: readonly Rewrite[]): string {
  return list.map(rewriteText).join('; ');
}

/** Why a message did not decode, in one phrase. */
export function decodeErrorText(d: DecodeError): string {
  if (d.kind === 'unread-sse-event') return `sent as SSE event "${d.detail}": clients read only "message" events, so none will see it`;
  if (d.kind === 'unfinished-sse-event') return `an SSE event the stream ended inside (${d.detail}, no blank line after it): clients drop it unread`;
  return d.detail;
}

/** The exchange's failure and the client's going away, as one suffix for a summary line ('' when neither). */
export function exchangeTrouble(e: { failure: Failure | null; aborted: boolean }): string {
  const parts = e.failure ? [failureText(e.failure)] : [];
  if (e.aborted && e.failure?.kind !== 'client-aborted') parts.push('client went away');
  return parts.join(', ');
}
