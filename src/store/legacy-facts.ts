import type { DecodeError, Exchange, Failure, HeaderList, MessageKind, Rewrite } from '../model/model.js';
import { header } from '../model/headers.js';

// Databases (schema < 6) and recordings (version < 3) written before the capture recorded facts as data
// hold them as sentences: `Exchange.error`, `Exchange.rewrite` ("a; b"), `RpcMessage.decodeError`.
// These read the sentences that mcptap wrote back into facts, once, where old data comes in (the
// migration, a read-only open of an old database, reading an old recording); any other text is kept
// whole as kind `other`.

/** What of a legacy exchange tells one failure from another besides its words. */
export type LegacyExchange = Pick<Exchange, 'kind' | 'status' | 'aborted'> & { responseHeaders: HeaderList | null };

export function failureFromText(text: string | null | undefined, e: LegacyExchange): Failure | null {
  if (text) {
    const t = text;
    let m: RegExpExecArray | null;
    if (t === 'upstream closed the connection mid-response') return { kind: 'body-cut', body: 'response', by: 'server', code: null };
    if ((m = /^(request|response) body not decoded: ([\s\S]*)$/.exec(t))) return { kind: 'decoding-failed', body: m[1] as 'request' | 'response', detail: m[2] };
    if ((m = /^(client|server) frames: ([\s\S]*)$/.exec(t))) return { kind: 'bad-frames', from: m[1] as 'client' | 'server', detail: m[2] };
    if ((m = /^exited with code (-?\d+)$/.exec(t))) return { kind: 'process-exited', code: Number(m[1]) };
    if ((m = /^killed by (\S+)$/.exec(t))) return { kind: 'process-killed', signal: m[1] };
    if ((m = /^failed to start: ([\s\S]*)$/.exec(t))) return { kind: 'process-not-started', detail: m[1] };
    // Older proxies recorded their own hang-up of the upstream request after the client left as its error.
    if (e.aborted && t === 'ECONNRESET: socket hang up') return { kind: 'client-aborted' };
    if ((m = /^([A-Z][A-Z0-9_]*): ([\s\S]*)$/.exec(t))) {
      // An errno with the socket's words: unreachable when the proxy answered in the upstream's place
      // (or nothing came back); after the answer had begun, the body was cut.
      const proxyAnswered = header(e.responseHeaders, 'x-mcptap-error') === 'upstream' || e.status == null || (e.kind === 'websocket' && e.status === 502);
      return proxyAnswered ? { kind: 'upstream-unreachable', code: m[1], message: m[2] } : { kind: 'body-cut', body: 'response', by: 'server', code: m[1] };
    }
    return { kind: 'other', detail: t };
  }
  if (e.aborted) return { kind: 'client-aborted' };
  // A refused upgrade was told by its status alone.
  if (e.kind === 'websocket' && e.status != null && e.status !== 101) return { kind: 'upgrade-refused', status: e.status };
  return null;
}

const REWRITES: Array<[RegExp, Rewrite['kind']]> = [
  [/^endpoint (\S+) → (\S+)$/, 'sse-endpoint'],
  [/^location (.+) → (.+)$/, 'location'],
  [/^www-authenticate resource_metadata (\S+) → (\S+)$/, 'oauth-challenge'],
  [/^oauth resource (\S+) → (\S+)$/, 'oauth-resource'],
];

export function rewritesFromText(text: string | null | undefined): Rewrite[] {
  if (!text) return [];
  return text.split('; ').map((part): Rewrite => {
    if (/^request header x-litellm-mcp-debug: true added/.test(part)) return { kind: 'gateway-debug-header', before: null, after: 'x-litellm-mcp-debug: true' };
    for (const [re, kind] of REWRITES) {
      const m = re.exec(part);
      if (m) return { kind, before: m[1], after: m[2] };
    }
    return { kind: 'other', before: null, after: part };
  });
}

export function decodeErrorFromText(text: string | null | undefined, kind: MessageKind): DecodeError | null {
  if (!text) return null;
  const event = /^sent as SSE event "([^"]*)"/.exec(text);
  if (event) return { kind: 'unread-sse-event', detail: event[1] };
  if (/over the \d+-byte decoding limit/.test(text)) return { kind: 'over-limit', detail: text };
  if (kind === 'non-json') return { kind: 'not-json', detail: text };
  if (kind === 'invalid') return { kind: 'invalid-jsonrpc', detail: text };
  return { kind: 'other', detail: text };
}
