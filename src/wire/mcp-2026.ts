// Revision 2026-07-28 of MCP moved what `initialize` used to say once into every message: the client's
// identity rides each request's `params._meta`, the server's each result's `_meta`. These are the keys and
// the small readers every layer (capture, analysis, display) shares.

export const REVISION_2026 = '2026-07-28';

export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;

/** The `_meta` keys that repeat on every message of a stateless session: shown once per session, folded elsewhere. */
export const IDENTITY_KEYS: readonly string[] = [META.protocolVersion, META.clientInfo, META.clientCapabilities, META.serverInfo];

/** The long-lived request that carries change notifications (it has no final answer while it lasts). */
export const LISTEN = 'subscriptions/listen';
/** How a 2026 client asks what a server speaks (and, on HTTP, its first request). */
export const DISCOVER = 'server/discover';

/** JSON-RPC error of a server that found an `Mcp-*` header differing from the body (the spec's `HeaderMismatch`). */
export const HEADER_MISMATCH = -32020;

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** What a request's `_meta` says of its client, or null when it carries none of it (an older revision). */
export function clientIdentity(params: unknown): { protocolVersion: string | null; clientInfo: Obj | null; clientCapabilities: Obj | null } | null {
  const meta = isObj(params) && isObj(params._meta) ? params._meta : null;
  if (!meta) return null;
  const v = meta[META.protocolVersion];
  const info = meta[META.clientInfo];
  const caps = meta[META.clientCapabilities];
  if (v === undefined && info === undefined && caps === undefined) return null;
  return { protocolVersion: typeof v === 'string' ? v : null, clientInfo: isObj(info) && typeof info.name === 'string' ? info : null, clientCapabilities: isObj(caps) ? caps : null };
}

/** `name/version` of the client a request names in `_meta` (the first request of a body that names one), or null. */
export function clientNameOf(values: unknown[]): string | null {
  for (const v of values) {
    const info = clientIdentity(isObj(v) ? v.params : null)?.clientInfo;
    if (info) return `${info.name}/${typeof info.version === 'string' ? info.version : '?'}`;
  }
  return null;
}

/** The server's identity in a result's `_meta`, or null. */
export function serverIdentity(result: unknown): Obj | null {
  const info = isObj(result) && isObj(result._meta) ? result._meta[META.serverInfo] : null;
  return isObj(info) && typeof info.name === 'string' ? info : null;
}

/**
 * The params (or result) without the identity keys in `_meta` (and without `_meta` when nothing else is in
 * it), for display: what is left is what the message is about. The same object when there is nothing to fold.
 */
export function foldIdentity<T>(body: T): T {
  if (!isObj(body) || !isObj(body._meta) || !IDENTITY_KEYS.some((k) => k in (body._meta as Obj))) return body;
  const meta = Object.fromEntries(Object.entries(body._meta).filter(([k]) => !IDENTITY_KEYS.includes(k)));
  const { _meta, ...rest } = body;
  return (Object.keys(meta).length ? { ...rest, _meta: meta } : rest) as T;
}

/** The value an `Mcp-Name` header must carry for a request, or null where the revision requires none. */
export function expectedMcpName(method: string | null, params: unknown): string | null {
  if (!isObj(params)) return null;
  if (method === 'tools/call' || method === 'prompts/get') return typeof params.name === 'string' ? params.name : null;
  if (method === 'resources/read') return typeof params.uri === 'string' ? params.uri : null;
  return null;
}

/**
 * An `Mcp-Name` value as the revision lets a client send it: plain ASCII, or `=?base64?…?=` for a name that is
 * not (see the transport's "Value Encoding"). Returns the decoded name.
 */
export function decodeHeaderValue(value: string): string {
  const m = /^=\?base64\?(.*)\?=$/.exec(value.trim());
  if (!m) return value.trim();
  try {
    return Buffer.from(m[1], 'base64').toString('utf8');
  } catch {
    return value;
  }
}
