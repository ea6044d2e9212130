import { header, mediaType } from '../model/headers.js';
import { isResourceMetadataPath } from '../wire/oauth-paths.js';
import { proxiedUrl, type Target } from './target.js';
import type { BodyRewriter, Transform } from './transforms.js';

// OAuth through a man in the middle. An MCP server that wants a token answers 401 with
//   WWW-Authenticate: Bearer resource_metadata="http://localhost:4000/.well-known/oauth-protected-resource/mcp"
// and publishes there (RFC 9728) the resource it protects: {"resource": "http://localhost:4000/mcp", …}.
// A client connected to the proxy (http://127.0.0.1:8808/mcp) would fetch that document past the
// proxy, and then refuse it: Claude Code and the MCP SDK require the resource to be the URL they
// connected to (RFC 9728 §3.3), and show no more than "Failed to connect". So, as for a redirect, the
// URLs on the upstream's own origin are moved to the proxy's, and the rewrite is recorded.

/** Responses bigger than this pass untouched: a metadata document is a few hundred bytes. */
export const METADATA_LIMIT = 64 * 1024;

/**
 * A WWW-Authenticate value whose `resource_metadata` URLs on the upstream's origin point at the proxy
 * instead, with what changed; null when nothing needs to.
 */
export function proxiedChallenge(target: Target, value: string, proxyOrigin: string): { value: string; from: string; to: string } | null {
  let from = '';
  let to = '';
  const out = value.replace(/(\bresource_metadata\s*=\s*)"([^"]*)"/gi, (all, key: string, url: string) => {
    const moved = proxiedUrl(target, url, proxyOrigin);
    if (!moved) return all;
    from ||= url;
    to ||= moved;
    return `${key}"${moved}"`;
  });
  return from ? { value: out, from, to } : null;
}

/**
 * The metadata document with its `resource` moved to the proxy when it names the upstream's origin;
 * null when it does not, or when the body is not a JSON object with a string `resource`. Only that
 * value changes: every other byte stays as the server sent it.
 */
export function proxiedResourceMetadata(target: Target, body: Buffer, proxyOrigin: string): { body: Buffer; from: string; to: string } | null {
  const text = body.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return null;
  const resource = (doc as Record<string, unknown>).resource;
  if (typeof resource !== 'string') return null;
  const moved = proxiedUrl(target, resource, proxyOrigin);
  if (!moved) return null;
  // Every "resource" member with that value (JSON.parse keeps the last of duplicates; a nested one
  // with the same URL is moved along with it).
  let hits = 0;
  const out = text.replace(/("resource"\s*:\s*)"((?:[^"\\]|\\.)*)"/g, (all, key: string, raw: string) => {
    if (JSON.parse(`"${raw}"`) !== resource) return all;
    hits++;
    return key + JSON.stringify(moved);
  });
  if (!hits) return null;
  return { body: Buffer.from(out, 'utf8'), from: resource, to: moved };
}

/** The OAuth challenge names the metadata URL: on the upstream's origin, the client would fetch it past the proxy. */
export const oauthChallengeTransform: Transform = {
  kind: 'oauth-challenge',
  responseHeader(ctx, _status, name, value) {
    if (name.toLowerCase() !== 'www-authenticate') return null;
    const moved = proxiedChallenge(ctx.target, value, ctx.proxyOrigin);
    if (!moved) return null;
    ctx.record({ kind: 'oauth-challenge', before: moved.from, after: moved.to });
    return moved.value;
  },
};

/**
 * A protected-resource metadata document, held whole (it is small) so that a `resource` on the
 * upstream's origin can name the proxy instead; anything too big goes on as it came.
 */
export const oauthResourceTransform: Transform = {
  kind: 'oauth-resource',
  responseBody(ctx, status, headers) {
    const length = header(headers, 'content-length');
    const candidate = ctx.method === 'GET' && status === 200 &&
      isResourceMetadataPath(ctx.path.slice(ctx.target.prefix.length)) &&
      mediaType(header(headers, 'content-type')).includes('json') &&
      !/\S/.test((header(headers, 'content-encoding') ?? '').replace(/identity/i, '')) &&
      (length == null || Number(length) <= METADATA_LIMIT);
    if (!candidate) return null;
    return new MetadataRewriter((body) => {
      const moved = proxiedResourceMetadata(ctx.target, body, ctx.proxyOrigin);
      if (moved) ctx.record({ kind: 'oauth-resource', before: moved.from, after: moved.to });
      return moved?.body ?? null;
    });
  },
};

class MetadataRewriter implements BodyRewriter {
  readonly holdsHead = true;
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes of the changed document; null while unchanged. */
  private moved: number | null = null;

  constructor(private readonly rewrite: (body: Buffer) => Buffer | null) {}

  feed(chunk: Buffer): Buffer | null {
    this.chunks.push(chunk);
    this.size += chunk.length;
    return this.size > METADATA_LIMIT ? Buffer.concat(this.chunks) : null;
  }

  end(): Buffer {
    const body = Buffer.concat(this.chunks);
    const out = this.rewrite(body);
    this.moved = out ? out.length : null;
    return out ?? body;
  }

  head(out: string[]): string[] {
    if (this.moved == null) return out;
    const headers: string[] = [];
    for (let i = 0; i + 1 < out.length; i += 2) {
      // The validator was for the server's bytes, not these.
      if (!/^(content-length|transfer-encoding|etag)$/i.test(out[i])) headers.push(out[i], out[i + 1]);
    }
    headers.push('Content-Length', String(this.moved));
    return headers;
  }
}
