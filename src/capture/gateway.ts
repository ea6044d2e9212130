import type { GatewayInfo, HeaderList } from '../model/model.js';
import { header } from '../model/headers.js';

// Recognising an MCP gateway (LiteLLM's proxy) from what it answers, and which upstream servers a session
// reached through it: the servers the client selected (path or x-mcp-servers header) and the server
// prefixes on the tool names the gateway listed. Pure functions: the tracker calls them at capture time.

/** LiteLLM's MCP server names itself so in initialize (LITELLM_MCP_SERVER_NAME). */
export const LITELLM_SERVER_NAME = 'litellm-mcp-server';
/** Where LiteLLM (1.108) reports each server's listing outcome, in a tools/list result's _meta. */
export const LITELLM_OUTCOMES_META = 'litellm.ai/server_outcomes';
/** LiteLLM's default MCP_TOOL_PREFIX_SEPARATOR. */
export const LITELLM_SEPARATOR = '-';

/** The gateway product behind an initialize answer's serverInfo, or null. */
export function recogniseGateway(serverInfo: { name?: unknown } | null | undefined): 'litellm' | null {
  return serverInfo?.name === LITELLM_SERVER_NAME ? 'litellm' : null;
}

/** LiteLLM's MCP routes: /mcp, /mcp/…, and the older /<server>/mcp (query aside). */
export function isLiteLLMMcpRoute(path: string): boolean {
  const p = path.split('?')[0];
  return /^\/mcp(\/|$)/.test(p) || /^\/[^/]+\/mcp\/?$/.test(p);
}

export interface ServerSelection {
  servers: string[];
  by: 'path' | 'header' | null;
}

/** A server name as written, percent-escapes decoded; a malformed escape (`50%-off`) is kept as written. */
function serverName(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const list = (s: string) => s.split(',').map((x) => serverName(x.trim())).filter(Boolean);

/**
 * The servers a request selects on LiteLLM: the path (`/mcp/<a>[,<b>]`, or the older `/<a>/mcp`) wins
 * over the `x-mcp-servers` header, as in LiteLLM's extract_mcp_auth_context. None: every server the key may use.
 */
export function selectedServers(url: string, headers: HeaderList): ServerSelection {
  const path = url.split('?')[0];
  const scoped = /^\/mcp\/([^/?#]+)/.exec(path)?.[1] ?? /^\/([^/?#]+)\/mcp\/?$/.exec(path)?.[1];
  if (scoped && scoped !== 'sse' && scoped !== 'enabled') return { servers: list(scoped), by: 'path' };
  const h = header(headers, 'x-mcp-servers');
  if (h != null && list(h).length) return { servers: list(h), by: 'header' };
  return { servers: [], by: null };
}

/**
 * Server prefixes on the listed tool names. A name's part before the separator is a server prefix when it
 * is a selected server, or when no server was selected and at least two tools share it (a tool of its own
 * may have the separator in its name: Context7's resolve-library-id).
 */
export function listedPrefixes(names: string[], selected: string[], sep = LITELLM_SEPARATOR): string[] {
  const counts = new Map<string, number>();
  for (const n of names) {
    const i = n.indexOf(sep);
    if (i > 0) counts.set(n.slice(0, i), (counts.get(n.slice(0, i)) ?? 0) + 1);
  }
  const want = new Set(selected.map((s) => s.toLowerCase()));
  return [...counts].filter(([p, c]) => (want.size ? want.has(p.toLowerCase()) : c >= 2)).map(([p]) => p).sort();
}

export interface ToolRoute {
  /** The upstream server the call went to. */
  server: string;
  /** The tool's name on that server. */
  tool: string;
  by: 'prefix' | 'selection';
}

/** Which upstream server a tools/call of `name` reached through the gateway, when the session tells. */
export function routeOfTool(g: GatewayInfo, name: string): ToolRoute | null {
  const sep = g.separator || LITELLM_SEPARATOR;
  for (const p of g.prefixes) {
    if (name.startsWith(p + sep)) return { server: p, tool: name.slice(p.length + sep.length), by: 'prefix' };
  }
  if (g.servers.length === 1) return { server: g.servers[0], tool: name, by: 'selection' };
  return null;
}

/**
 * What LiteLLM said it resolved for a request asked with x-litellm-mcp-debug (mcptap proxy --gateway-debug):
 * its x-mcp-debug-* answer headers, prefix dropped (`outbound-url`, `auth-resolution`…), as stored (redacted).
 */
export function gatewayDebugHeaders(headers: HeaderList | null): Array<[string, string]> {
  return (headers ?? []).filter(([k]) => /^x-mcp-debug-/i.test(k)).map(([k, v]) => [k.slice('x-mcp-debug-'.length).toLowerCase(), v]);
}

/** "via litellm → db_main, files" (the upstream servers the session reached, or the ones it selected). */
export function describeGateway(g: GatewayInfo | null | undefined): string | null {
  if (!g) return null;
  const servers = [...new Set([...g.servers, ...g.prefixes])];
  return `via ${g.name}${servers.length ? ` → ${servers.join(', ')}` : ' → all servers'}`;
}
