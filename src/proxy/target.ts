import { UsageError } from '../errors.js';

export interface Target {
  url: URL;
  /** The path prefix, without a trailing slash ('' for none). */
  prefix: string;
  /** The form shown to people and stored on sessions. */
  display: string;
  /** True when the input had no scheme (`localhost:6001`) and http:// was assumed: the banner says so. */
  schemeAssumed?: boolean;
}

// host:port or host:port/path, with no scheme: what people type for a local server.
const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d+(\/.*)?$/i;

export function parseTarget(input: string): Target {
  const schemeAssumed = HOST_PORT.test(input);
  let url: URL;
  try {
    url = new URL(schemeAssumed ? `http://${input}` : input);
  } catch {
    throw new UsageError(`--target '${input}' is not a URL; give one like http://localhost:4000`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--target must be an http:// or https:// URL (got ${url.protocol}); WebSocket traffic is proxied through the same http target`);
  }
  if (url.search || url.hash) throw new UsageError(`--target takes an origin with an optional path prefix, without ?query or #fragment`);
  const prefix = url.pathname.replace(/\/+$/, '');
  return { url, prefix, display: url.origin + prefix, ...(schemeAssumed ? { schemeAssumed } : {}) };
}

/** The upstream path for a request path: the --target prefix, then the path as the client sent it. */
export function upstreamPath(t: Target, path: string): string {
  let p = path.startsWith('/') ? path : '/' + path;
  // With a prefix, the proxy's root is the target itself: --target http://gw/mcp and a client at
  // http://proxy/ reach http://gw/mcp, not http://gw/mcp/.
  if (t.prefix && (p === '/' || p.startsWith('/?'))) p = p.slice(1);
  return t.prefix + p;
}

/** The upstream URL for a request path, the way the proxy forwards it. */
export function upstreamUrl(t: Target, path: string, ws = false): string {
  const origin = ws ? t.url.origin.replace(/^http/, 'ws') : t.url.origin;
  return origin + upstreamPath(t, path);
}

/**
 * The proxy's address for a URL on the upstream's origin (and under its --target prefix), or null to
 * leave it as sent (relative, or somewhere else). Redirects and OAuth metadata point clients here.
 */
export function proxiedUrl(target: Target, url: string, proxyOrigin: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.origin !== target.url.origin) return null;
  let path = u.pathname;
  if (target.prefix) {
    if (path !== target.prefix && !path.startsWith(target.prefix + '/')) return null;
    path = path.slice(target.prefix.length) || '/';
  }
  return proxyOrigin + path + u.search + u.hash;
}
