import { payload, reqHeader, SessionView } from './context.js';
import { SPECIFIC, type Finding, type Rule } from './types.js';

const KNOWN_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'];

export const sessionHeader: Rule = {
  id: 'session-header',
  description: 'Requests after initialize without the Mcp-Session-Id the server issued, with a different one, or answered 400/404 about the session.',
  cause: 'session',
  confidence: SPECIFIC.likely,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    if (input.session.transport !== 'streamable-http') return out;
    const issued = input.session.mcpSessionId;
    const http = v.requests();
    // A refused server/discover probe may come back with a session id (the Python SDK 1.x gives one to any
    // request it refuses): the session starts with the initialize after it.
    const initAt = http.findIndex((e) => !v.carriesProbe(e) && e.responseHeaders?.some(([k]) => k.toLowerCase() === 'mcp-session-id'));
    const missing: string[] = [];
    const wrong: string[] = [];
    for (const e of http.slice(initAt < 0 ? http.length : initAt + 1)) {
      const sent = reqHeader(e, 'mcp-session-id');
      if (!sent) missing.push(e.id);
      else if (issued && sent !== issued) wrong.push(e.id);
    }
    if (issued && missing.length) {
      out.push(v.finding('session-header', 'error',
        `${missing.length} request${missing.length > 1 ? 's' : ''} after initialize did not send the Mcp-Session-Id the server issued`,
        { exchangeIds: missing },
        `The server answered initialize with "Mcp-Session-Id: ${issued}". Every later request of the session must carry it; without it a stateful server treats the request as outside any session (400) or starts over.`,
        `Send "Mcp-Session-Id: ${issued}" on every request after initialize. If a gateway sits in between, it must pass the header both ways (and expose it: Access-Control-Expose-Headers for browser clients).`));
    }
    if (wrong.length) {
      out.push(v.finding('session-header', 'error',
        `${wrong.length} request${wrong.length > 1 ? 's' : ''} sent a different Mcp-Session-Id than the server issued`,
        { exchangeIds: wrong },
        `The server issued ${issued}, and the client sent another id: it may be reusing a session from an earlier connection, or a gateway replaced the id with its own.`,
        `Restart the client's session (reconnect), and make sure a gateway maps its own session ids to the server's.`));
    }
    for (const e of http) {
      if (e.status !== 400 && e.status !== 404) continue;
      const body = e.responseBody ?? '';
      if (!/session/i.test(body)) continue;
      // A refused server/discover probe is how a 2026-07-28 client learns to fall back to initialize.
      if (v.carriesProbe(e)) continue;
      out.push(v.finding('session-header', 'error',
        `${e.method} ${v.path(e)} answered ${e.status}: ${body.replace(/\s+/g, ' ').slice(0, 120)}`,
        { exchangeIds: [e.id] },
        e.status === 404
          ? `The server does not know the session the request named: it expired, the server restarted, or the request reached another instance. Per the spec the client must start a new session with a fresh initialize.`
          : `The server refused a request that is not part of a session: it was sent without a valid Mcp-Session-Id (or before initialize).`,
        e.status === 404
          ? `Reconnect the client (Claude Code: /mcp → reconnect) so it sends initialize again; behind a load balancer, use sticky sessions.`
          : `Send initialize first, then the Mcp-Session-Id from its answer on every request.`,
        { claims: v.exchangeClaims(e) }));
    }
    return out;
  },
};

export const protocolVersion: Rule = {
  id: 'protocol-version',
  description: 'MCP-Protocol-Version header missing or different from the negotiated version (2025-06-18 on); unsupported versions in initialize.',
  cause: 'protocol',
  confidence: SPECIFIC.likely,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    const { request, response } = v.initialize();
    const asked = payload(request)?.params?.protocolVersion as string | undefined;
    const res = payload(response);
    if (asked && !KNOWN_VERSIONS.includes(asked)) {
      out.push(v.finding('protocol-version', 'warning',
        `the client asked for protocol version ${asked}, which is not a published MCP revision`,
        { messageSeqs: [request!.seq] },
        `Published revisions: ${KNOWN_VERSIONS.join(', ')}. Servers answer with a version they support, or fail the handshake.`,
        `Upgrade or configure the client to use a published revision.`));
    }
    if (response?.kind === 'error' && /version/i.test(JSON.stringify(res?.error ?? ''))) {
      out.push(v.finding('protocol-version', 'error',
        `the server rejected the client's protocol version ${asked ?? '?'}: ${res?.error?.message ?? ''}`,
        { messageSeqs: [request!.seq, response.seq] },
        `Client and server share no protocol revision.`,
        `Upgrade the older side (the server's SDK or the client).`));
    }
    const negotiated = input.session.protocolVersion;
    if (!negotiated || negotiated < '2025-06-18' || input.session.transport !== 'streamable-http') return out;
    const after = v.requests().filter((e) => request && e.startedAt > (response?.ts ?? request.ts) && e.method !== 'DELETE');
    const missing = after.filter((e) => !reqHeader(e, 'mcp-protocol-version'));
    const differ = after.filter((e) => {
      const h = reqHeader(e, 'mcp-protocol-version');
      return h && h !== negotiated;
    });
    if (missing.length) {
      out.push(v.finding('protocol-version', 'warning',
        `${missing.length} request${missing.length > 1 ? 's' : ''} after initialize did not send MCP-Protocol-Version (negotiated ${negotiated})`,
        { exchangeIds: missing.map((e) => e.id) },
        `Since 2025-06-18 a client must send the negotiated version in "MCP-Protocol-Version" on every request after initialize. Servers assume 2025-03-26 when it is missing, and strict ones answer 400.`,
        `Send "MCP-Protocol-Version: ${negotiated}"; if the client does and this capture shows it missing, a gateway is dropping the header.`));
    }
    if (differ.length) {
      out.push(v.finding('protocol-version', 'error',
        `${differ.length} request${differ.length > 1 ? 's' : ''} sent MCP-Protocol-Version ${reqHeader(differ[0], 'mcp-protocol-version')}, but the session negotiated ${negotiated}`,
        { exchangeIds: differ.map((e) => e.id) },
        `The header must carry the version agreed in initialize. A different one means the client (or a gateway) talks a revision the server did not agree to.`,
        `Send "MCP-Protocol-Version: ${negotiated}".`));
    }
    return out;
  },
};

const CAPABILITY_FOR: Record<string, string> = { 'sampling/createMessage': 'sampling', 'elicitation/create': 'elicitation', 'roots/list': 'roots' };

export const ordering: Rule = {
  id: 'ordering',
  description: 'Requests before the initialize handshake completed; server→client requests the client declared no capability for.',
  cause: 'protocol',
  confidence: SPECIFIC.plain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    const { request, response } = v.initialize();
    if (request) {
      const doneAt = response?.seq ?? Infinity;
      const early = input.messages.filter((m) => m.direction === 'client->server' && m.kind === 'request' && m.seq < doneAt && m !== request && m.method !== 'ping' && m.method !== 'server/discover' && !v.redirected(m));
      if (early.length) {
        out.push(v.finding('ordering', 'error',
          `${early.length} request${early.length > 1 ? 's' : ''} (${early[0].method}…) sent before the initialize handshake completed`,
          { messageSeqs: early.map((m) => m.seq) },
          `A client must wait for the initialize result (and send notifications/initialized) before other requests; servers reject or drop them.`,
          `Fix the client to await initialize; if a gateway multiplexes clients, it must not forward requests of a session before its handshake.`));
      }
    }
    const caps = input.session.clientCapabilities ?? {};
    for (const m of input.messages) {
      if (m.direction !== 'server->client' || m.kind !== 'request' || !m.method || !(m.method in CAPABILITY_FOR)) continue;
      const cap = CAPABILITY_FOR[m.method];
      if (request && !(cap in caps)) {
        out.push(v.finding('ordering', 'error',
          `the server sent ${m.method}, but the client did not declare the "${cap}" capability`,
          { messageSeqs: [m.seq, ...(m.correlatedSeq != null ? [m.correlatedSeq] : [])] },
          `Servers may only send ${m.method} to clients that declared "${cap}" in initialize. This client declared: ${Object.keys(caps).join(', ') || 'nothing'}. It will answer with an error, or not at all.`,
          `Make the server check the client's capabilities before asking, or use a client that supports ${cap}.`));
      }
    }
    return out;
  },
};
