import type { Exchange } from '../../model/model.js';
import {
  answeredByProxy, claudeAdd, cutMidResponse, endpointRewrite as endpointRewriteOf, locationRewritten, metadataUrlRewritten, movedResource,
  failureOf, otherRewrite, reqHeader, resHeader, resType, SessionView, unexpectedAnswer, upstreamUnreachable,
} from './context.js';
import { SPECIFIC, type Finding, type Rule } from './types.js';
import { isOAuthDiscoveryPath as isDiscoveryPath, isResourceMetadataPath as isMetadataPath } from '../../wire/oauth-paths.js';
import { liteLLMSseClient } from './gateway-rules.js';
import { isLegacyPostUrl } from '../../wire/legacy-endpoint.js';

/** The URL the client used, rebuilt from its Host header (the proxy's address). */
export function clientUrl(e: Exchange, path = e.url.split('?')[0]): string {
  const host = reqHeader(e, 'host');
  return host ? `http://${host}${path}` : path;
}

/**
 * When --target already ends in the path the client adds again (--target …/mcp, client at …/mcp, the
 * upstream asked for /mcp/mcp): the repeated segment and the --target without it.
 */
export function doubledPath(target: string, clientPath: string): { segment: string; target: string } | null {
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return null;
  }
  const prefix = u.pathname.replace(/\/+$/, '');
  const last = prefix.slice(prefix.lastIndexOf('/'));
  if (!prefix || last === '/' || (clientPath !== last && !clientPath.startsWith(last + '/'))) return null;
  return { segment: last, target: u.origin + prefix.slice(0, -last.length) };
}

const short = (s: string | null, n = 160) => (s ?? '').replace(/\s+/g, ' ').slice(0, n);

export const acceptHeader: Rule = {
  id: 'accept-header',
  description: 'A Streamable HTTP POST answered 406 Not Acceptable: the client did not accept both application/json and text/event-stream.',
  cause: 'transport',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const e of v.requests()) {
      if (e.status !== 406) continue;
      const accept = reqHeader(e, 'accept');
      if (e.method === 'GET' && !(accept ?? '').includes('text/event-stream')) {
        // A plain curl or a browser: the Python SDK (LiteLLM's /mcp/) wants a GET to open an event stream.
        out.push(v.finding('accept-header', 'warning',
          `GET ${v.path(e)} answered 406 Not Acceptable: a GET here must accept text/event-stream (a plain curl or browser gets this)`,
          { exchangeIds: [e.id], messageSeqs: v.seqsOf(e.id) },
          `A GET on a Streamable HTTP endpoint opens the server's event stream, so the server refuses one that does not accept text/event-stream. This is what "curl http://localhost:4000/mcp/" gets, and it says nothing about the server being broken: LiteLLM checks the key before this, so a 406 there also means the key was accepted. The request sent ${accept ? `Accept: ${accept}` : 'no Accept header'}.`,
          `To test the endpoint by hand, POST an initialize: curl -X POST ${clientUrl(e, v.path(e))} -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' (with your key header); for Claude Code use ${claudeAdd('http', clientUrl(e, v.path(e)))}.`,
          { claims: v.exchangeClaims(e) }));
        continue;
      }
      const missing = ['application/json', 'text/event-stream'].filter((t) => !(accept ?? '').toLowerCase().includes(t) && !(accept ?? '').includes('*/*'));
      const what = missing.length ? missing.join(' and ') : 'one of the required media types';
      out.push(v.finding('accept-header', 'error',
        `${e.method} ${v.path(e)} answered 406 Not Acceptable: the request did not accept ${what}`,
        { exchangeIds: [e.id], messageSeqs: v.seqsOf(e.id) },
        `The server requires every POST to accept both application/json and text/event-stream (Streamable HTTP). The request sent ${accept ? `Accept: ${accept}` : 'no Accept header'}. Server said: ${short(e.responseBody) || '406'}`,
        `Send "Accept: application/json, text/event-stream" on every POST. Claude Code does this with --transport http; a gateway in between must pass the header through unchanged.`,
        { claims: v.exchangeClaims(e) }));
    }
    return out;
  },
};

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export const redirect: Rule = {
  id: 'redirect',
  description: "An MCP request answered with a redirect, such as Starlette's (and LiteLLM's) /mcp → /mcp/: an error when the client did not follow it, a note when it did (judged from what the client sent next).",
  cause: 'transport',
  confidence: SPECIFIC.certain,
  check(input, opts) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const e of v.requests()) {
      if (e.status == null || !REDIRECTS.has(e.status)) continue;
      const carriesRpc = v.messagesOf(e.id).some((m) => m.direction === 'client->server');
      const opensStream = e.method === 'GET' && (reqHeader(e, 'accept') ?? '').includes('text/event-stream');
      if (!carriesRpc && !opensStream) continue;
      const path = v.path(e);
      const location = resHeader(e, 'location');
      // Where the client should have gone, as a proxy URL: the redirect's path, under the same --target prefix.
      let fixed: string | null = null;
      let toPath: string | null = null;
      let shown = location ?? '(no Location header)';
      if (location) {
        try {
          const upstream = new URL(e.upstreamUrl);
          const to = new URL(location, upstream);
          const prefix = upstream.pathname.endsWith(path) ? upstream.pathname.slice(0, upstream.pathname.length - path.length) : null;
          shown = to.origin === upstream.origin ? to.pathname + to.search : to.href;
          if (to.origin === upstream.origin && prefix != null && to.pathname.startsWith(prefix)) {
            toPath = to.pathname.slice(prefix.length) || '/';
            fixed = clientUrl(e, toPath);
          } else if (locationRewritten(e)) {
            // mcptap moved the Location onto the proxy: the client's next request names the proxy's path.
            toPath = new URL(location, 'http://proxy.invalid').pathname;
          } else if (to.origin !== upstream.origin) fixed = to.href;
        } catch {
          // A Location that is not a URL: say what it was.
        }
      }
      // A GET stream of a Streamable HTTP session is its standalone stream, not legacy SSE.
      const transport = input.session.transport === 'sse' || /\/sse\/?$/.test(path) ? 'sse' : 'http';
      const fix = fixed ? `Point the client at the URL the server redirects to: ${claudeAdd(transport, fixed)}` : `Point the client at the URL the server redirects to.`;
      const followedBy = toPath != null ? followUp(v, input.exchanges, e, toPath) : null;
      // Live, a client gets its time to follow before "did not follow" is said.
      if (!followedBy && opts?.live && (opts.now ?? Date.now()) - e.startedAt < FOLLOW_WINDOW_MS) continue;
      if (followedBy) {
        out.push(v.finding('redirect', 'info',
          `${e.method} ${path} answered ${e.status}: redirected to ${shown}, and the client followed it`,
          { exchangeIds: [e.id, followedBy.id], messageSeqs: v.seqsOf(e.id) },
          `The server redirects this URL${shown === path + '/' ? ' to the same path with a trailing slash (a Starlette/FastAPI mount: LiteLLM serves MCP on /mcp/)' : ''}; the client sent the same request again to ${shown}, which answered ${followedBy.status ?? 'nothing yet'}. It works, at the cost of a round trip per request.`,
          fix, { claims: v.exchangeClaims(e) }));
        continue;
      }
      out.push(v.finding('redirect', 'error',
        `${e.method} ${path} answered ${e.status}: redirected to ${shown}, and the client did not follow it`,
        { exchangeIds: [e.id], messageSeqs: v.seqsOf(e.id) },
        `The server redirects this URL${shown === path + '/' ? ' to the same path with a trailing slash (a Starlette/FastAPI mount: LiteLLM serves MCP on /mcp/)' : ''}. The client did not follow the redirect: nothing was sent to ${shown} after it, so this request went unanswered${locationRewritten(e) ? '; mcptap rewrote the Location to stay on the proxy, for clients that do follow it' : ''}.`,
        fix, { claims: v.exchangeClaims(e) }));
    }
    return out;
  },
};

/** How long after a redirect the client's repeat of the request still counts as following it. */
const FOLLOW_WINDOW_MS = 30_000;

/**
 * The client's request that followed a redirect: sent after it to the redirect's path, with the same method
 * (307/308 keep it; 301–303 may turn it into a GET) and, for a request that carried JSON-RPC, the same ids.
 */
function followUp(v: SessionView, exchanges: Exchange[], e: Exchange, toPath: string): Exchange | null {
  const ids = new Set(v.messagesOf(e.id).filter((m) => m.direction === 'client->server').map((m) => `${m.method}|${JSON.stringify(m.rpcId)}`));
  const keepsMethod = e.status === 307 || e.status === 308;
  return exchanges.find((x) => x.id !== e.id && x.kind === 'http' && x.startedAt >= e.startedAt && x.startedAt - e.startedAt <= FOLLOW_WINDOW_MS &&
    v.path(x) === toPath && (!keepsMethod || x.method === e.method) &&
    (!ids.size || v.messagesOf(x.id).some((m) => m.direction === 'client->server' && ids.has(`${m.method}|${JSON.stringify(m.rpcId)}`)))) ?? null;
}

export const transportMismatch: Rule = {
  id: 'transport-mismatch',
  description: 'A legacy SSE client against a Streamable HTTP endpoint or the reverse (405/404 on GET or POST, no endpoint event, 404 on /message), or a WebSocket upgrade the server refused.',
  cause: 'transport',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    // Paths the client POSTed JSON-RPC to and got an answer: Streamable HTTP endpoints, where a GET is
    // the optional standalone stream, which a server may decline with 405 (a stateless one sends no
    // Mcp-Session-Id for the GET to carry).
    const streamable = new Set(v.requests().filter((e) => e.method === 'POST' && e.status != null && e.status < 300 &&
      v.messagesOf(e.id).some((m) => m.direction === 'client->server')).map((e) => v.path(e)));
    for (const e of v.requests()) {
      const path = v.path(e);
      const accept = reqHeader(e, 'accept') ?? '';
      const hasRpc = v.messagesOf(e.id).some((m) => m.direction === 'client->server');
      const standalone = streamable.has(path) || !!reqHeader(e, 'mcp-protocol-version');
      if (e.method === 'GET' && accept.includes('text/event-stream') && !reqHeader(e, 'mcp-session-id') && !standalone && (e.status === 405 || e.status === 404 || e.status === 400 || (e.status === 200 && resType(e) !== 'text/event-stream'))) {
        const base = clientUrl(e, path.replace(/\/sse$/, '/mcp'));
        out.push(v.finding('transport-mismatch', 'error',
          `GET ${path} answered ${e.status}${e.status === 200 ? ` (${resType(e) || 'no content type'})` : ''}: this is not a legacy SSE endpoint`,
          { exchangeIds: [e.id] },
          `The client opened a legacy HTTP+SSE stream (GET expecting text/event-stream, then an "endpoint" event), and the server did not offer one. Servers speaking Streamable HTTP take POSTs at a single endpoint such as /mcp.`,
          `Use Streamable HTTP: ${claudeAdd('http', base)}`,
          { claims: v.exchangeClaims(e) }));
      } else if (e.method === 'POST' && /\/sse\/?$/.test(path) && (e.status === 404 || e.status === 405 || e.status === 400) && hasRpc) {
        out.push(v.finding('transport-mismatch', 'error',
          `POST ${path} answered ${e.status}: a Streamable HTTP client is talking to a legacy SSE endpoint`,
          { exchangeIds: [e.id] },
          `The client POSTed JSON-RPC to ${path}, which on legacy HTTP+SSE servers only serves the GET stream; messages go to the URL its "endpoint" event names.`,
          `Use the legacy transport: ${claudeAdd('sse', clientUrl(e, path))}`,
          { claims: v.exchangeClaims(e) }));
      } else if (e.method === 'POST' && isLegacyPostUrl(e.url) && e.status === 404) {
        out.push(v.finding('transport-mismatch', 'error',
          `POST ${path} answered 404: the server does not know this legacy SSE session`,
          { exchangeIds: [e.id] },
          `The message endpoint announced by the SSE stream rejected the session id. The stream may have closed (the server forgets the session), or the POST went to another server instance than the stream.`,
          `Keep the GET /sse stream open while posting; behind a load balancer, pin both connections to one instance (sticky sessions), or move to Streamable HTTP.`,
          { claims: v.exchangeClaims(e) }));
      }
    }
    for (const e of input.exchanges) {
      // An upgrade the server answered with anything but 101 (a 502 of mcptap's own means no server answered at all).
      if (e.kind !== 'websocket' || !failureOf(e, 'upgrade-refused')) continue;
      out.push(v.finding('transport-mismatch', 'error',
        `the server refused the WebSocket upgrade of ${v.path(e)} with ${e.status}`,
        { exchangeIds: [e.id] },
        `The client asked to speak MCP over a WebSocket, and the server answered ${e.status} instead of 101 Switching Protocols: it does not take WebSocket connections at this URL (most MCP servers speak Streamable HTTP or legacy SSE only).${e.responseBody && /\S/.test(e.responseBody) ? ` Server said: ${short(e.responseBody)}` : ''}`,
        `Connect over HTTP: ${claudeAdd('http', clientUrl(e, v.path(e)))} (or --transport sse with the server's SSE URL); if the server does speak WebSocket, check the path and the subprotocol it expects.`));
    }
    if (input.session.transport === 'sse') {
      // Only a client that asked for an event stream is a legacy SSE client (a curl of LiteLLM 1.108's /mcp/ gets one unasked).
      const stream = v.requests().find((e) => e.method === 'GET' && resType(e) === 'text/event-stream' && (reqHeader(e, 'accept') ?? '').includes('text/event-stream'));
      if (stream && !input.session.mcpSessionId && !(stream.responseBody ?? '').includes('event: endpoint')) {
        const litellm = liteLLMSseClient(stream, input.session.gateway);
        if (litellm) out.push(v.finding('transport-mismatch', 'error', litellm.title, { exchangeIds: [stream.id] }, litellm.explanation, litellm.fix));
        else out.push(v.finding('transport-mismatch', 'error',
          `the SSE stream ${v.path(stream)} never sent an "endpoint" event`,
          { exchangeIds: [stream.id] },
          `A legacy HTTP+SSE server must first send "event: endpoint" naming the URL to POST messages to. Without it the client cannot send anything, and waits.`,
          `If the server speaks Streamable HTTP, connect with ${claudeAdd('http', clientUrl(stream, v.path(stream).replace(/\/sse$/, '/mcp')))}; otherwise check the server's SSE route.`));
      }
    }
    return out;
  },
};

export const auth: Rule = {
  id: 'auth',
  description: '401/403 answers, WWW-Authenticate challenges, and OAuth discovery documents that 404.',
  cause: 'access',
  confidence: SPECIFIC.likely,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const e of v.requests()) {
      const path = v.path(e);
      if (/^\/\.well-known\/oauth-(protected-resource|authorization-server)/.test(path) && e.status === 404) {
        // Clients try several discovery URLs (path-suffixed and root forms; without resource metadata,
        // the authorization server's at the server's origin): one that answered makes the misses moot.
        if (v.requests().some((r) => isDiscoveryPath(v.path(r)) && r.status === 200)) continue;
        out.push(v.finding('auth', 'warning',
          `OAuth discovery ${path} answered 404`,
          { exchangeIds: [e.id] },
          `The client looked for OAuth metadata (it does so after a 401 with a Bearer challenge, or before connecting). The server, or the gateway in front of it, does not publish it, so the client cannot obtain a token by itself.`,
          `Either give the client a key directly (e.g. claude mcp add --transport http <name> <url> --header "Authorization: Bearer <key>"), or expose the OAuth metadata through the gateway.`));
        continue;
      }
      if (e.status !== 401 && e.status !== 403) continue;
      const challenge = resHeader(e, 'www-authenticate');
      // The challenge that starts an OAuth login. Came back with a token that worked: nothing to tell.
      // Got the metadata: a login started (it goes on in a browser, and the client's retry with the token
      // is a new session); what the metadata said is a finding of its own.
      const later = v.requests().filter((r) => r.startedAt >= e.startedAt && r !== e);
      if (e.status === 401 && /^\s*bearer\b/i.test(challenge ?? '')) {
        if (later.some((r) => r.status != null && r.status < 400 && reqHeader(r, 'authorization'))) continue;
        const metadata = later.find((r) => isDiscoveryPath(v.path(r)) && r.status === 200);
        if (metadata && !reqHeader(e, 'authorization')) {
          out.push(v.finding('auth', 'info',
            `${e.method} ${path} answered 401 and the client started an OAuth login (it fetched ${v.path(metadata)})`,
            { exchangeIds: [e.id, metadata.id], messageSeqs: v.seqsOf(e.id) },
            `The server wants a token and said where to get one; the client went for it. The login goes on in the browser, and the client then connects again with the token: that is a new session (see 'mcptap sessions'). If none came, the login did not finish.`,
            `If the login fails, log in without mcptap to see the authorization server's error, or give the client a token directly: claude mcp add --transport http <name> <url> --header "Authorization: Bearer <token>".`,
            { claims: v.exchangeClaims(e) }));
          continue;
        }
      }
      const sent = reqHeader(e, 'authorization') ?? reqHeader(e, 'x-api-key') ?? reqHeader(e, 'x-litellm-api-key');
      // What the server said (LiteLLM: "Authentication Error, Invalid proxy server token passed…"), stored redacted.
      const said = e.responseBody && /\S/.test(e.responseBody) ? ` Server said: ${short(e.responseBody)}` : '';
      out.push(v.finding('auth', 'error',
        `${e.method} ${path} answered ${e.status}${challenge ? ` (WWW-Authenticate: ${short(challenge, 80)})` : ''}; ${sent ? `credential sent: ${sent}` : 'no credential was sent'}`,
        { exchangeIds: [e.id], messageSeqs: v.seqsOf(e.id) },
        sent
          ? `The request carried a credential (shown by its fingerprint) and the server refused it: wrong key, expired token, or a key for another gateway or team.${said}`
          : `The request carried no Authorization header (nor x-api-key / x-litellm-api-key). A header configured for the client never reached the server: check the client config, and that nothing in between strips it.${said}`,
        sent
          ? `Check the key: compare the last four characters its fingerprint shows with the key the gateway expects (LiteLLM: a virtual key or the master key, sent as "Authorization: Bearer sk-…").`
          : `Add the header: claude mcp add --transport http <name> <url> --header "Authorization: Bearer <key>" (LiteLLM also accepts "x-litellm-api-key: <key>").`,
        { claims: v.exchangeClaims(e) }));
    }
    return out;
  },
};

/**
 * Whether an MCP client accepts metadata for `resource` when it connected to `requested`: the same
 * origin, and the requested path under the resource's (the MCP SDK's checkResourceAllowed, which
 * Claude Code applies too).
 */
export function resourceAccepted(requested: string, resource: string): boolean {
  let a: URL;
  let b: URL;
  try {
    a = new URL(requested);
    b = new URL(resource);
  } catch {
    return false;
  }
  if (a.origin !== b.origin) return false;
  const slash = (p: string) => (p.endsWith('/') ? p : p + '/');
  return slash(a.pathname).startsWith(slash(b.pathname));
}

export const oauthResource: Rule = {
  id: 'oauth-resource',
  description: 'OAuth protected-resource metadata that names another resource than the URL the client connected to, or that the client fetches past the proxy.',
  cause: 'access',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    const reqs = v.requests();
    // The MCP endpoint as the client addressed it: the first exchange that carried a message.
    const carried = new Set(input.messages.map((m) => m.exchangeId));
    const endpoint = reqs.find((e) => carried.has(e.id));
    const endpointUrl = endpoint ? clientUrl(endpoint) : null;
    let told = false;
    for (const e of reqs) {
      const challenge = e.status === 401 || e.status === 403 ? resHeader(e, 'www-authenticate') : null;
      const metadataUrl = challenge ? /resource_metadata\s*=\s*"([^"]*)"/i.exec(challenge)?.[1] : undefined;
      const host = reqHeader(e, 'host');
      if (metadataUrl && host && !metadataUrlRewritten(e)) {
        let elsewhere = false;
        try {
          elsewhere = new URL(metadataUrl).host !== host;
        } catch {
          // Not a URL: the client cannot use it either, and the 401 is what it sees.
        }
        if (elsewhere) {
          out.push(v.finding('oauth-resource', 'warning',
            `the 401 sends the client to ${metadataUrl} for OAuth metadata, past the proxy`,
            { exchangeIds: [e.id] },
            `The server's WWW-Authenticate challenge names its metadata on a host other than the one the client connected to (${host}), and not the --target's, so mcptap left it as it was. The client fetches it there directly: that request is not on the record, and the document's "resource" must still match the URL the client connected to.`,
            `If the client cannot reach ${metadataUrl}, or refuses the document, give it a token directly: claude mcp add --transport http <name> ${endpointUrl ?? '<url>'} --header "Authorization: Bearer <token>".`));
        }
      }
      if (e.method !== 'GET' || e.status !== 200 || !isMetadataPath(v.path(e)) || !e.responseBody) continue;
      let resource: unknown;
      try {
        resource = (JSON.parse(e.responseBody) as { resource?: unknown } | null)?.resource;
      } catch {
        continue;
      }
      if (typeof resource !== 'string') continue;
      const moved = movedResource(e);
      if (moved) {
        // Clients fetch the document again to finish the login: told once.
        if (told) continue;
        told = true;
        // Tokens are now asked for the proxy's URL; a refused one afterwards is most likely why.
        const refused = reqs.find((r) => r.status === 401 && (reqHeader(r, 'authorization') ?? '') !== '');
        out.push(v.finding('oauth-resource', refused ? 'warning' : 'info',
          refused
            ? `a token for ${moved} was refused: the server may require its own URL, ${resource}, as the token's audience`
            : `mcptap moved the OAuth resource ${resource} to ${moved}, the URL the client connected to`,
          { exchangeIds: refused ? [e.id, refused.id] : [e.id] },
          `The server's protected-resource metadata names ${resource}. MCP clients (Claude Code, the MCP SDK) refuse metadata for another URL than the one they connected to (RFC 9728 §3.3), so mcptap passed it on with ${moved} instead, and the client asks the authorization server for a token for that resource (RFC 8707). A server or authorization server that checks the resource against its own URL refuses such a token.`,
          refused
            ? `Log in once without mcptap (claude mcp add --transport http <name> ${resource}), then give the token through the proxy: claude mcp add --transport http <name> ${endpointUrl ?? moved} --header "Authorization: Bearer <token>".`
            : `Nothing to do while the login works. If the server refuses the token, log in without mcptap and pass the token as a header through the proxy.`));
        continue;
      }
      const requested = endpointUrl ?? clientUrl(e, '/');
      if (resourceAccepted(requested, resource)) continue;
      out.push(v.finding('oauth-resource', 'error',
        `OAuth metadata names the resource ${resource}, not ${requested}, the URL the client connected to`,
        { exchangeIds: [e.id] },
        `MCP clients check that the protected-resource metadata is for the URL they connected to (same origin, path under the resource's; RFC 9728 §3.3) and stop otherwise. Claude Code then shows only "Failed to connect"; the MCP SDK throws "Protected resource ${resource} does not match expected ${requested} (or origin)". The login never starts.`,
        `The server must publish the URL clients use as its resource (behind a gateway or a tunnel: the public URL, e.g. the server's base URL setting). Until then, give the client a token directly: claude mcp add --transport http <name> ${requested} --header "Authorization: Bearer <token>".`));
    }
    return out;
  },
};

export const endpointRewrite: Rule = {
  id: 'endpoint-rewrite',
  description: 'A legacy endpoint event that points at a host the client cannot reach or that bypasses the proxy.',
  cause: 'transport',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const e of v.requests()) {
      // Only endpoint events: a rewritten Location or OAuth document is no endpoint.
      const endpoint = endpointRewriteOf(e);
      if (!endpoint && otherRewrite(e)) continue;
      if (endpoint) {
        out.push(v.finding('endpoint-rewrite', 'info',
          `the server's endpoint event named the upstream directly; mcptap rewrote it (${endpoint})`,
          { exchangeIds: [e.id] },
          `The legacy SSE server announced an absolute URL on its own address. Left alone, the client would post there and bypass the proxy (and anything else in between). mcptap changed only that line.`,
          `Nothing to do here; without mcptap, make the server send a relative endpoint (e.g. /message?sessionId=…) or its public address.`));
        continue;
      }
      const m = /event: endpoint\r?\ndata: ?(\S+)/.exec(e.responseBody ?? '');
      if (!m || !/^[a-z]+:\/\//i.test(m[1])) continue;
      let u: URL;
      try {
        u = new URL(m[1]);
      } catch {
        continue;
      }
      const host = reqHeader(e, 'host');
      const unreachable = /^(0\.0\.0\.0|\[::\])$/.test(u.hostname);
      if (unreachable || (host && u.host !== host)) {
        out.push(v.finding('endpoint-rewrite', unreachable ? 'error' : 'warning',
          `the endpoint event points at ${u.origin}${unreachable ? ', which no client can connect to' : `, not at ${host} where the client connected`}`,
          { exchangeIds: [e.id] },
          `Legacy SSE clients POST every message to the URL the endpoint event names. ${u.origin} ${unreachable ? 'is a listen address, not a reachable one' : 'is another host: the messages skip whatever the client connected through (gateway, proxy)'}.`,
          `Make the server announce a relative endpoint (/message?sessionId=…) or its public URL; behind a gateway, have the gateway rewrite it.`));
      }
    }
    return out;
  },
};

/** What a 4xx means for an MCP request, and what to do about it. */
const CLIENT_ERRORS: Record<number, { what: string; fix: (url: string) => string }> = {
  404: {
    what: 'there is no MCP endpoint at this URL',
    fix: (url) => `Point the client at the server's MCP endpoint (Streamable HTTP servers usually serve /mcp; LiteLLM: /mcp/, or /<server_name>/mcp for one server): claude mcp add --transport http <name> ${url}, with the right path.`,
  },
  405: {
    what: 'this URL does not take POST: it is not a Streamable HTTP endpoint',
    fix: (url) => `Use the server's MCP endpoint, or the legacy transport if it has one: claude mcp add --transport sse <name> ${url.replace(/\/[^/]*$/, '/sse')}.`,
  },
  413: {
    what: 'the request is bigger than the server or gateway accepts',
    fix: () => `Raise the body size limit of the gateway or reverse proxy in front of the server (nginx: client_max_body_size), or send less (smaller tool arguments).`,
  },
  415: {
    what: 'the server wants another Content-Type',
    fix: () => `Send "Content-Type: application/json" with every POST.`,
  },
  429: {
    what: 'the server or gateway is rate-limiting the client, or a budget is used up',
    fix: () => `Wait for the Retry-After time, or raise the limit (LiteLLM: the key's or team's rpm_limit, tpm_limit or max_budget).`,
  },
};

export const httpStatus: Rule = {
  id: 'http-status',
  description: 'An MCP request refused at the HTTP level (404 wrong URL, 405, 413, 415, 429 rate limit or budget, other 4xx), or answered with a web page or plain text instead of JSON or an event stream.',
  cause: 'other',
  // Any refusal at all: a more specific finding about the same request tells it better.
  confidence: SPECIFIC.fallback,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const e of v.requests()) {
      const s = e.status;
      const wrongType = unexpectedAnswer(v, e);
      if (wrongType) {
        out.push(v.finding('http-status', 'error',
          `${e.method} ${v.path(e)} answered ${s} with ${wrongType}, not JSON or an event stream`,
          { exchangeIds: [e.id], messageSeqs: v.seqsOf(e.id) },
          `A JSON-RPC request must be answered with application/json or text/event-stream; the SDK client fails with "Unexpected content type: ${wrongType}". The URL reaches something that is not an MCP server: a web page, a gateway's UI or health route, a default nginx site.${e.responseBody && /\S/.test(e.responseBody) ? ` It sent: ${short(e.responseBody)}` : ''}`,
          `Check --target and the path the client uses: claude mcp add --transport http <name> ${clientUrl(e, v.path(e))} must reach the MCP endpoint itself.`,
          { claims: v.exchangeClaims(e), confidence: SPECIFIC.likely }));
        continue;
      }
      // 401 and 403 ask for credentials (MCP's OAuth starts with one): not a refusal of the URL.
      if (s == null || s < 400 || s >= 500 || s === 401 || s === 403) continue;
      // Only requests that carried JSON-RPC; a stream's GET and a DELETE may be declined (405) by design.
      if (e.method !== 'POST' || !v.messagesOf(e.id).some((m) => m.direction === 'client->server')) continue;
      // A refused server/discover probe is how a 2026-07-28 client learns to fall back to initialize.
      if (v.carriesProbe(e)) continue;
      const path = v.path(e);
      const body = e.responseBody ?? '';
      // Answered in JSON-RPC: the answer says what went wrong, this is no bare HTTP refusal.
      if (v.messagesOf(e.id).some((m) => m.direction === 'server->client')) continue;
      const doubled = s === 404 ? doubledPath(input.session.target, path) : null;
      if (doubled) {
        const asked = new URL(input.session.target).pathname.replace(/\/+$/, '') + path;
        out.push(v.finding('http-status', 'error',
          `${e.method} ${path} answered 404: the upstream was asked for ${asked}, ${doubled.segment} twice (--target already ends in ${doubled.segment})`,
          { exchangeIds: [e.id], messageSeqs: v.seqsOf(e.id) },
          `The proxy appends the client's path to --target: --target ${input.session.target} and a client at …${path} make ${asked} upstream, which the server does not serve.`,
          `Start the proxy with --target ${doubled.target} and keep the client at ${clientUrl(e, path)}; or keep --target and point the client at the proxy's root: claude mcp add --transport http <name> ${clientUrl(e, '/')}.`,
          { claims: v.exchangeClaims(e), confidence: SPECIFIC.likely }));
        continue;
      }
      const known = CLIENT_ERRORS[s];
      const said = /\S/.test(body) ? short(body) : '';
      const retry = s === 429 ? resHeader(e, 'retry-after') : null;
      out.push(v.finding('http-status', 'error',
        `${e.method} ${path} answered ${s}${known ? `: ${known.what}` : ''}${said ? ` (${short(said, 100)})` : ''}`,
        { exchangeIds: [e.id], messageSeqs: v.seqsOf(e.id) },
        `The request never reached MCP: the server (or a gateway or reverse proxy in front of it) refused it at the HTTP level, and sent ${said ? `"${said}"` : 'no body'} instead of a JSON-RPC answer.${retry ? ` Retry-After: ${retry}.` : ''} Clients show this as a failed connection or tool call.`,
        known ? known.fix(clientUrl(e, path)) : `Read what the server said; compare the request with a known-good session (mcptap diff) to see what it objects to.`,
        { claims: v.exchangeClaims(e) }));
    }
    return out;
  },
};

export const upstreamFailure: Rule = {
  id: 'upstream-failure',
  description: '5xx answers, refused or reset connections, and responses cut off mid-stream.',
  cause: 'reachability',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const e of input.exchanges) {
      const seqs = v.seqsOf(e.id);
      const unreachable = upstreamUnreachable(e);
      if (unreachable) {
        out.push(v.finding('upstream-failure', 'error',
          `${e.method} ${v.path(e)}: the upstream could not be reached (${unreachable})`,
          { exchangeIds: [e.id], messageSeqs: seqs },
          `The proxy could not get an answer from ${input.session.target}: the server is down, on another port, or refusing connections. The client got 502 from mcptap.`,
          `Start the server, or point --target at the address it listens on (check with: curl -i ${input.session.target}).`));
      } else if (cutMidResponse(e)) {
        out.push(v.finding('upstream-failure', 'error',
          `${e.method} ${v.path(e)}: the upstream closed the connection in the middle of the response`,
          { exchangeIds: [e.id], messageSeqs: seqs },
          `The response started (status ${e.status ?? '?'}) but the connection ended before it was complete; anything the client was waiting for on it never came. Gateways with short idle timeouts do this to long SSE streams.`,
          `Raise the gateway's or load balancer's read/idle timeout for the MCP route, or have the server send SSE keep-alive comments.`,
          // The cut explains the stream's end, not what arrived on it before: a message sent wrong is still its own fault.
          { confidence: SPECIFIC.likely, claims: { exchangeIds: [e.id] } }));
      } else if (e.status != null && e.status >= 500) {
        out.push(v.finding('upstream-failure', 'error',
          `${e.method} ${v.path(e)} answered ${e.status}`,
          { exchangeIds: [e.id], messageSeqs: seqs },
          `The server (or gateway) failed while handling the request. It said: ${short(e.responseBody) || `${e.status}`}`,
          `Look at the server's or gateway's log at ${new Date(e.startedAt).toISOString()}; for a gateway, check that the MCP server behind it is up (LiteLLM: the mcp_servers entry's url and transport).`,
          // A server error says only that it failed: a finding that says why (a refused key) tells it better.
          { confidence: SPECIFIC.generic }));
      }
    }
    return out;
  },
};
