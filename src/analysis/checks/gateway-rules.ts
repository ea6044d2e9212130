import type { Exchange, RpcMessage } from '../../model/model.js';
import { isLiteLLMMcpRoute, LITELLM_SEPARATOR, routeOfTool, selectedServers } from '../../capture/gateway.js';
import { header } from '../../model/headers.js';
import { claudeAdd, payload, reqHeader, SessionView } from './context.js';
import { SPECIFIC, type Finding, type Rule } from './types.js';

// LiteLLM's own failure modes, as the interop suite saw them on the real proxy (test/interop/facts.ts):
// a refused key answered 500 (1.77) or 400 (no database) on the MCP route, an x-mcp-servers value that
// matches no server, a tool list that is silently short, and tool errors returned as successes.

const short = (s: string | null | undefined, n = 160) => (s ?? '').replace(/\s+/g, ' ').slice(0, n);

/**
 * LiteLLM refusing the key on its MCP route: 1.77's sub-app turns the auth exception into HTTP 500
 * `{"error":"MCP request failed",…}`; without a database, a key that is not the master key is 400
 * "No connected db." (1.108: `{"detail":"No connected db."}`).
 */
export function isLiteLLMKeyRefusal(e: Exchange): boolean {
  const body = e.responseBody ?? '';
  if (!isLiteLLMMcpRoute(e.url)) return false;
  return (e.status === 500 && /"error"\s*:\s*"MCP request failed"/.test(body)) ||
    (e.status === 400 && /No connected db|no_db_connection/.test(body));
}

/** Which header carried the key, and how: the fingerprints keep the scheme (`Bearer [redacted:9f3a1c2e…1234]`). */
function keyCarrier(e: Exchange): { said: string; fixHeader: string } {
  const litellm = reqHeader(e, 'x-litellm-api-key');
  const authz = reqHeader(e, 'authorization');
  const value = litellm ?? authz;
  const name = litellm != null ? 'x-litellm-api-key' : authz != null ? 'Authorization' : null;
  if (!name || value == null) return { said: 'The request carried no key at all (neither x-litellm-api-key nor Authorization).', fixHeader: 'x-litellm-api-key: Bearer <key>' };
  const bearer = /^\s*bearer\s/i.test(value);
  return {
    said: `The key came in ${name}${bearer ? ` (${short(value, 40)})` : `, without the "Bearer " prefix LiteLLM requires (${short(value, 40)})`}.`,
    fixHeader: `${name}: Bearer <key>`,
  };
}

export const gatewayAuth: Rule = {
  id: 'gateway-auth',
  description: "LiteLLM refused the key on its MCP route, which it answers as HTTP 500 ('MCP request failed', 1.77) or 400 'No connected db.' (a key that is not the master key, no database), not 401.",
  cause: 'access',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const e of v.requests()) {
      if (!isLiteLLMKeyRefusal(e)) continue;
      const { said, fixHeader } = keyCarrier(e);
      const noDb = /No connected db|no_db_connection/.test(e.responseBody ?? '');
      out.push(v.finding('gateway-auth', 'error',
        `${e.method} ${v.path(e)} answered ${e.status}: LiteLLM refused the key${noDb ? ' (not the master key, and no database to look it up in)' : ', reported as a server error'}`,
        { exchangeIds: [e.id], messageSeqs: v.seqsOf(e.id) },
        `${noDb ? 'LiteLLM runs without a database, so only its master key is accepted: any other key is answered "No connected db.".' : "LiteLLM's MCP route authenticates before MCP starts, and its sub-app turns the refusal into HTTP 500 (not 401), so clients report a failed server rather than ask for a key."} ${said} It said: ${short(e.responseBody)}`,
        `Send the master key (or a virtual key, with a database): ${claudeAdd('http', `http://${reqHeader(e, 'host') ?? '127.0.0.1:4000'}/mcp/`)} --header "${fixHeader}"`));
    }
    return out;
  },
};

/** The tools/list answers of a session, with the tool names and LiteLLM's per-server outcomes (1.108: result._meta). */
function listings(input: { messages: RpcMessage[] }): Array<{ m: RpcMessage; names: string[]; outcomes: Record<string, { status?: string; error?: string; tool_count?: number }> | null; error: string | null }> {
  const out = [];
  for (const m of input.messages) {
    if (m.method !== 'tools/list' || m.direction !== 'server->client') continue;
    const p = payload(m);
    if (m.kind === 'error') {
      out.push({ m, names: [], outcomes: null, error: typeof p?.error?.message === 'string' ? p.error.message : null });
      continue;
    }
    const tools = p?.result?.tools;
    if (m.kind !== 'response' || !Array.isArray(tools)) continue;
    const outcomes = p.result._meta?.['litellm.ai/server_outcomes'];
    out.push({ m, names: tools.map((t: { name?: string }) => String(t?.name)), outcomes: outcomes && typeof outcomes === 'object' ? outcomes : null, error: null });
  }
  return out;
}

const SERVER_REFUSAL = /not allowed to access the requested MCP servers/i;

/** LiteLLM (1.108) refusing, at the HTTP level, servers the request selected (unknown, or not the key's). */
export function isLiteLLMServerRefusal(e: Exchange): boolean {
  return e.status != null && e.status >= 400 && SERVER_REFUSAL.test(e.responseBody ?? '');
}

const prefixesOf = (names: string[], sep: string) => [...new Set(names.filter((n) => n.indexOf(sep) > 0).map((n) => n.slice(0, n.indexOf(sep))))];

export const gatewayServers: Rule = {
  id: 'gateway-servers',
  description: 'An x-mcp-servers value (or /mcp/<server> path) that matches no LiteLLM server: 1.77 silently lists every server instead, later versions refuse it.',
  cause: 'access',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    const howOf = (sel: { servers: string[]; selectedBy?: string | null; by?: string | null }) =>
      (sel.selectedBy ?? sel.by) === 'path' ? `the path /mcp/${sel.servers.join(',')}` : `x-mcp-servers: ${sel.servers.join(',')}`;
    for (const e of v.requests()) {
      if (!isLiteLLMServerRefusal(e)) continue;
      const how = howOf(selectedServers(e.url, e.requestHeaders));
      out.push(v.finding('gateway-servers', 'error', `${e.method} ${v.path(e)} answered ${e.status}: ${how} names no server this key may use`,
        { exchangeIds: [e.id], messageSeqs: v.seqsOf(e.id) },
        `LiteLLM matched ${how} against its servers' names, aliases, ids and access groups and found none it lets this key use, so it refused the connection. It said: ${short(e.responseBody)}. Server names are the keys under mcp_servers: in config.yaml and may not contain "-".`,
        `Use a server name from config.yaml (GET /v1/mcp/server lists them), e.g. ${claudeAdd('http', `http://<litellm>/mcp/<server>`)}`));
      return out;
    }
    const g = input.session.gateway;
    if (!g || !g.servers.length) return out;
    const how = howOf(g);
    for (const l of listings(input)) {
      const ev = { messageSeqs: [l.m.correlatedSeq ?? l.m.seq, l.m.seq], exchangeIds: l.m.exchangeId ? [l.m.exchangeId] : [] };
      if (l.error && /not allowed to access the requested MCP servers/i.test(l.error)) {
        out.push(v.finding('gateway-servers', 'error', `tools/list refused: ${how} names no server this key may use`, ev,
          `LiteLLM matched ${how} against its servers' names, aliases, ids and access groups and found none it lets this key use. It said: ${short(l.error)}. Server names are the keys under mcp_servers: in config.yaml and may not contain "-".`,
          `Use a server name from config.yaml (GET /v1/mcp/server lists them), e.g. ${claudeAdd('http', `http://<litellm>/mcp/<server>`)}`));
        break;
      }
      const listed = prefixesOf(l.names, g.separator || LITELLM_SEPARATOR);
      const wanted = new Set(g.servers.map((s) => s.toLowerCase()));
      const others = listed.filter((p) => !wanted.has(p.toLowerCase()));
      if (l.names.length && others.length && !listed.some((p) => wanted.has(p.toLowerCase()))) {
        out.push(v.finding('gateway-servers', 'error', `${how} matched no server: LiteLLM fell back to all of them (${others.join(', ')})`, ev,
          `LiteLLM (1.77) selects servers by ${how}; when no name, alias, id or access group matches, it silently returns every server the key may use, so the client sees ${l.names.length} tools from ${others.join(', ')} and none it asked for.`,
          `Fix the name (servers here: ${others.join(', ')}): ${claudeAdd('http', `http://<litellm>/mcp/${others[0]}`)}`));
        break;
      }
    }
    return out;
  },
};

export const gatewayUpstream: Rule = {
  id: 'gateway-upstream',
  description: 'A LiteLLM tools/list answered 200 with no tools (or none from a selected server): the upstream MCP server is down or configured with the other transport, and LiteLLM said nothing.',
  cause: 'reachability',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const g = input.session.gateway;
    if (!g) return [];
    const out: Finding[] = [];
    const sep = g.separator || LITELLM_SEPARATOR;
    for (const l of listings(input)) {
      if (l.error) continue;
      const failed = l.outcomes ? Object.entries(l.outcomes).filter(([, o]) => o?.status && o.status !== 'ok') : [];
      const listed = new Set(prefixesOf(l.names, sep).map((p) => p.toLowerCase()));
      const silent = g.servers.filter((s) => !listed.has(s.toLowerCase()) && !(l.outcomes && l.outcomes[s]?.status === 'ok'));
      const empty = l.names.length === 0;
      if (!empty && !failed.length && !(silent.length && listed.size)) continue;
      const who = failed.length ? failed.map(([s]) => s) : silent.length ? silent : g.servers.length ? g.servers : ['every server'];
      const said = failed.map(([s, o]) => `${s}: ${o.status}${o.error ? ` (${short(o.error, 80)})` : ''}`).join('; ');
      out.push(v.finding('gateway-upstream', 'error',
        `tools/list answered 200 with ${empty ? 'no tools' : `no tools from ${who.join(', ')}`}: LiteLLM could not reach ${who.join(', ')}`,
        { messageSeqs: [l.m.correlatedSeq ?? l.m.seq, l.m.seq], exchangeIds: l.m.exchangeId ? [l.m.exchangeId] : [] },
        `LiteLLM connects to each upstream MCP server when it lists tools; when that fails (server down, wrong URL, or the transport in config.yaml is not the one the server speaks) it leaves the server's tools out and answers 200, so the client sees no error, only missing tools ("No such tool available" later).${said ? ` LiteLLM reported: ${said}.` : ''}`,
        `Check mcp_servers.${who[0] === 'every server' ? '<name>' : who[0]} in config.yaml: its url must answer (curl it), and transport must match the server: "sse" for a legacy /sse URL, "http" for Streamable HTTP (/mcp). LiteLLM's log says "MCP client connection failed".`,
        // LiteLLM's own outcome says so; missing tools alone may have another reason (a misspelt server name).
        { confidence: failed.length ? SPECIFIC.certain : SPECIFIC.likely }));
    }
    return out;
  },
};

const UPSTREAM_GONE = /MCP client session is not initialized|No response received/i;

/** LiteLLM's own error texts in tool results, and what each means. */
const LITELLM_TOOL_ERRORS: Array<[RegExp, string]> = [
  [/Tool '?[^']*'? not found/i, 'LiteLLM knows no tool by this name on the servers this request selects: the name lacks (or has a stale) server prefix, or the server did not list it'],
  [/User not allowed to call this tool/i, "the key's MCP permissions do not include the server this tool belongs to (or an unprefixed name could not be tied to a server)"],
  [UPSTREAM_GONE, 'LiteLLM could not reach the upstream MCP server for the call (1.77 answers so once the server it had connected to has gone; it reconnects by itself on a later call once the server is back)'],
];

export const gatewayToolError: Rule = {
  id: 'gateway-tool-error',
  description: 'A tools/call through LiteLLM whose result is an error text ("Error: …", or LiteLLM\'s own "MCP client session is not initialized") with isError false: the model takes the failure for a success.',
  cause: 'tools',
  confidence: SPECIFIC.likely,
  check(input) {
    const v = SessionView.of(input);
    if (!input.session.gateway) return [];
    const out: Finding[] = [];
    for (const m of input.messages) {
      if (m.direction !== 'server->client' || m.method !== 'tools/call' || m.kind !== 'response' || m.isError) continue;
      const text = payload(m)?.result?.content?.find((c: { text?: string }) => typeof c?.text === 'string')?.text as string | undefined;
      const known = text ? LITELLM_TOOL_ERRORS.find(([re]) => re.test(text)) : undefined;
      if (!text || (!/^\s*Error\b/.test(text) && !known)) continue;
      const route = m.subject ? routeOfTool(input.session.gateway, m.subject) : null;
      // LiteLLM's own texts are failures for certain; an upstream's "Error…" text may be a tool's output.
      out.push(v.finding('gateway-tool-error', known ? 'error' : 'warning',
        `tools/call ${m.subject ?? '?'} returned an error as a success: ${short(text, 100)}`,
        { messageSeqs: [m.correlatedSeq ?? m.seq, m.seq], exchangeIds: m.exchangeId ? [m.exchangeId] : [] },
        `The result says it failed, but isError is false, so the client (and the model) treat it as a successful tool result. ${known ? `This is LiteLLM's own text: ${known[1]}.` : 'LiteLLM 1.77 drops isError from upstream results (the upstream may have reported isError true), and some servers (postgres-mcp) report failures as text.'}`,
        known && /not found|not allowed/i.test(known[1]) ? `Call the name LiteLLM lists (tools/list through the gateway, with the same x-mcp-servers), e.g. '<server>-<tool>'.`
          : known ? `Start (or fix) the upstream server${route ? ` ${route.server}` : ''}: mcp_servers.${route?.server ?? '<name>'}.url in config.yaml must answer (curl it); LiteLLM's log says why the session dropped. No LiteLLM restart is needed once the server is back.`
          : `Upgrade LiteLLM (1.108 passes isError through) and read the upstream server's log for the call.`));
    }
    return out;
  },
};

/**
 * A legacy SSE client (`claude mcp add --transport sse`) at LiteLLM's MCP route: LiteLLM has no legacy SSE
 * endpoint, and both pinned versions answer the GET with an event stream that never names an endpoint, so
 * the client waits until it times out. LiteLLM is told by the session (its initialize answer), by its own
 * request headers (x-litellm-api-key, x-mcp-servers), or by its route (/mcp/…) served by uvicorn.
 */
export function liteLLMSseClient(e: Exchange, gateway: { name: string } | null | undefined): { title: string; explanation: string; fix: string } | null {
  const path = e.url.split('?')[0];
  if (!isLiteLLMMcpRoute(path)) return null;
  const litellm = gateway?.name === 'litellm' || reqHeader(e, 'x-litellm-api-key') != null || reqHeader(e, 'x-mcp-servers') != null ||
    (/^\/mcp\//.test(path) && /uvicorn/i.test(header(e.responseHeaders, 'server') ?? ''));
  if (!litellm) return null;
  const url = `http://${reqHeader(e, 'host') ?? '<litellm>'}${path.endsWith('/') || /^\/mcp\/./.test(path) ? path : path + '/'}`;
  const { fixHeader } = keyCarrier(e);
  const servers = reqHeader(e, 'x-mcp-servers');
  return {
    title: `GET ${path} is LiteLLM's Streamable HTTP MCP route: a legacy SSE client (--transport sse) waits there for an "endpoint" event that never comes`,
    explanation: `LiteLLM serves MCP over Streamable HTTP only (POST JSON-RPC to /mcp/); it has no legacy HTTP+SSE endpoint. Its /mcp/ answers the SSE client's GET with 200 and an event stream that never sends "event: endpoint", so the client has nowhere to POST initialize and waits until its connect timeout (Claude Code: "Failed to connect" after 30 s). The transport: "sse" in config.yaml is for LiteLLM's own upstream servers, not for clients of LiteLLM.`,
    fix: `Register LiteLLM with the http transport: ${claudeAdd('http', url)} --header "${fixHeader}"${servers ? ` --header "x-mcp-servers: ${servers}"` : ''}`,
  };
}
