import { header, mediaType } from '../model/headers.js';
import type { BodyRewriter, Transform } from './transforms.js';
import { isLegacySseStream } from '../wire/sse.js';

export interface EndpointRewriteOptions {
  /** The upstream URL of the GET stream (for resolving relative endpoints). */
  streamUrl: string;
  /** The path prefix of --target ('' when none). */
  upstreamPrefix: string;
  /** Origin the client used to reach the proxy, e.g. http://127.0.0.1:8808 (with the route's prefix under routes). */
  proxyOrigin: string;
  /** The proxy route's path prefix (`/s/NAME`), which a root-relative endpoint must carry; '' for none. */
  routeBase?: string;
  onRewrite: (from: string, to: string) => void;
}

/** Bytes kept while looking for the first event; past this the stream passes untouched. */
const HEAD_LIMIT = 64 * 1024;

/**
 * Computes the `endpoint` a legacy HTTP+SSE client must use to keep talking through the proxy, or null
 * when the original already does. An absolute URI on the upstream's origin is moved to the proxy's
 * origin; a path under the --target prefix loses the prefix (the proxy adds it back on the way up).
 */
export function rewriteEndpoint(data: string, o: Omit<EndpointRewriteOptions, 'onRewrite'>): string | null {
  const raw = data.trim();
  let u: URL;
  let stream: URL;
  try {
    stream = new URL(o.streamUrl);
    u = new URL(raw, stream);
  } catch {
    return null;
  }
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(raw) || raw.startsWith('//');
  let path = u.pathname;
  const prefix = o.upstreamPrefix.replace(/\/+$/, '');
  if (prefix && (path === prefix || path.startsWith(prefix + '/'))) path = path.slice(prefix.length) || '/';
  if (absolute) {
    if (u.origin !== stream.origin) return null;
    return o.proxyOrigin + path + u.search + u.hash;
  }
  const base = o.routeBase ?? '';
  if (raw.startsWith('/') && (path !== u.pathname || base)) return base + path + u.search + u.hash;
  return null;
}

/**
 * Watches the head of a legacy SSE stream for its `endpoint` event and rewrites it when needed. The
 * proxy feeds it chunks until it releases the (possibly rewritten) head; from then on the stream is
 * piped straight through and this is out of the way.
 */
export class EndpointRewriter implements BodyRewriter {
  readonly holdsHead = false;
  private held = '';
  done = false;

  constructor(private readonly o: EndpointRewriteOptions) {}

  /** The bytes to send on, once the first event is complete (or the head too long to hold); else null. */
  feed(chunk: Buffer): Buffer | null {
    if (this.done) return chunk;
    // latin1 keeps every byte as one char, so the untouched parts go back out byte-identical.
    this.held += chunk.toString('latin1');
    const m = /\r\n\r\n|\n\n|\r\r/.exec(this.held);
    if (!m) return this.held.length > HEAD_LIMIT ? this.release(this.held) : null;
    const end = m.index + m[0].length;
    return this.release(this.rewriteBlock(this.held.slice(0, end)) + this.held.slice(end));
  }

  /** The stream ended while its head was held: what there is goes out as it is. */
  end(): Buffer {
    return this.done ? Buffer.alloc(0) : this.release(this.held);
  }

  head(out: string[]): string[] {
    return out;
  }

  private release(text: string): Buffer {
    this.done = true;
    this.held = '';
    return Buffer.from(text, 'latin1');
  }

  private rewriteBlock(block: string): string {
    const lines = block.split(/(\r\n|\n|\r)/);
    const isEndpoint = lines.some((l) => /^event:\s?endpoint$/.test(l));
    if (!isEndpoint) return block;
    const i = lines.findIndex((l) => l.startsWith('data:'));
    if (i < 0) return block;
    const data = Buffer.from(lines[i].slice(5).replace(/^ /, ''), 'latin1').toString('utf8');
    const to = rewriteEndpoint(data, this.o);
    if (to == null) return block;
    lines[i] = 'data: ' + Buffer.from(to, 'utf8').toString('latin1');
    this.o.onRewrite(data, to);
    return lines.join('');
  }
}

/**
 * The legacy HTTP+SSE `endpoint` event: a server that announces an absolute URL on its own address (or
 * a path under the --target prefix) would have the client post past the proxy, or to a wrong path.
 */
export const endpointTransform: Transform = {
  kind: 'sse-endpoint',
  responseBody(ctx, _status, headers) {
    if (!isLegacyStream(ctx.method, ctx.requestHeaders, headers)) return null;
    return new EndpointRewriter({
      streamUrl: ctx.target.url.origin + ctx.path,
      upstreamPrefix: ctx.target.prefix,
      proxyOrigin: ctx.proxyOrigin,
      routeBase: ctx.routeBase,
      onRewrite: (from, to) => ctx.record({ kind: 'sse-endpoint', before: from, after: to }),
    });
  },
};

/** A legacy stream (see isLegacySseStream) whose bytes can be rewritten as they pass: open-ended and not encoded. */
function isLegacyStream(method: string, request: Record<string, string | string[] | undefined>, response: Array<[string, string]>): boolean {
  return isLegacySseStream(method, (name) => request[name], mediaType(header(response, 'content-type'))) &&
    !header(response, 'content-length') &&
    !/\S/.test((header(response, 'content-encoding') ?? '').replace(/identity/i, ''));
}
