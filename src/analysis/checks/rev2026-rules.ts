import type { Exchange, RpcMessage } from '../../model/model.js';
import { clientIdentity, decodeHeaderValue, expectedMcpName, HEADER_MISMATCH, REVISION_2026 } from '../../wire/mcp-2026.js';
import { payload, reqHeader, SessionView } from './context.js';
import { SPECIFIC, type Finding, type Rule } from './types.js';

// What revision 2026-07-28 asks of a request that older ones did not: the body mirrored into HTTP headers
// (Mcp-Method, Mcp-Name, MCP-Protocol-Version), and no server-initiated requests (multi round-trip instead).

interface HeaderProblem {
  header: string;
  /** What the request carried (null: the header was missing). */
  sent: string | null;
  /** What the body says it should be. */
  body: string;
}

const errorText = (m: RpcMessage) => {
  const e = payload(m)?.error;
  return typeof e?.message === 'string' ? e.message : '';
};

/** The headers of one request that disagree with its body, as the revision defines them. */
function headerProblems(e: Exchange, m: RpcMessage, params: unknown): HeaderProblem[] {
  const out: HeaderProblem[] = [];
  const method = reqHeader(e, 'mcp-method') ?? null;
  if (m.method && method !== m.method) out.push({ header: 'Mcp-Method', sent: method, body: m.method });
  const name = expectedMcpName(m.method, params);
  const sentName = reqHeader(e, 'mcp-name') ?? null;
  if (name != null && (sentName == null || decodeHeaderValue(sentName) !== name)) out.push({ header: 'Mcp-Name', sent: sentName, body: name });
  const version = clientIdentity(params)?.protocolVersion;
  const sentVersion = reqHeader(e, 'mcp-protocol-version') ?? null;
  if (version && sentVersion !== version) out.push({ header: 'MCP-Protocol-Version', sent: sentVersion, body: version });
  return out;
}

const said = (p: HeaderProblem) => (p.sent == null ? `no ${p.header} header` : `${p.header}: ${p.sent}`) + ` (the body says ${p.body})`;

/** A refusal that is about the request's headers: the revision's HeaderMismatch, or an error naming an Mcp-* header. */
const headerRefusal = (m: RpcMessage) =>
  m.direction === 'server->client' && m.kind === 'error' && (m.errorCode === HEADER_MISMATCH || /\b(mcp-method|mcp-name|mcp-protocol-version)\b/i.test(errorText(m)));

export const mcpHeaders: Rule = {
  id: 'mcp-headers',
  cause: 'transport',
  confidence: SPECIFIC.certain,
  description: 'Mcp-Method / Mcp-Name / MCP-Protocol-Version headers (2026-07-28) missing or different from the request body; a server refusing such a request (400, -32020) explained: which header, what the body said, and who dropped or rewrote it.',
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const e of v.requests()) {
      if (e.method !== 'POST') continue;
      const own = v.messagesOf(e.id);
      const sent = own.filter((m) => m.direction === 'client->server' && m.kind === 'request');
      if (sent.length !== 1) continue;
      const m = sent[0];
      const params = payload(m)?.params;
      const revision = clientIdentity(params)?.protocolVersion ?? reqHeader(e, 'mcp-protocol-version');
      const refusal = own.find(headerRefusal);
      // The headers are the 2026 revision's: an older request without them is no fault unless a server refused it for that.
      if (!refusal && !(revision && revision >= REVISION_2026)) continue;
      const problems = headerProblems(e, m, params);
      if (!problems.length && !refusal) continue;
      const what = `${m.method}${m.subject ? ' ' + m.subject : ''}`;
      const ev = { messageSeqs: own.map((x) => x.seq), exchangeIds: [e.id] };
      if (refusal && problems.length) {
        out.push(v.finding('mcp-headers', 'error',
          `${what} refused (HTTP ${e.status ?? '?'}${refusal.errorCode != null ? `, ${refusal.errorCode}` : ''}): the request had ${problems.map(said).join(', ')}`,
          ev,
          `Revision 2026-07-28 mirrors the body into headers so that gateways can route without reading it, and a server must refuse a request whose headers disagree with its body. This request reached mcptap that way, so the client (or something between it and mcptap) sent it so; the server said: "${errorText(refusal)}".`,
          `Send ${problems.map((p) => `\`${p.header}: ${p.body}\``).join(' and ')} with it, as the body says (a client library that speaks 2026-07-28 does it on every POST); a gateway or proxy in front of the server must pass the Mcp-* headers on unchanged.`,
          { claims: v.exchangeClaims(e) }));
      } else if (refusal) {
        out.push(v.finding('mcp-headers', 'error',
          `${what} refused (HTTP ${e.status ?? '?'}${refusal.errorCode != null ? `, ${refusal.errorCode}` : ''}) for its headers, though they matched the body when they passed mcptap`,
          ev,
          `The server said "${errorText(refusal)}", but the request left mcptap with Mcp-Method: ${reqHeader(e, 'mcp-method') ?? '(none)'}${reqHeader(e, 'mcp-name') ? `, Mcp-Name: ${reqHeader(e, 'mcp-name')}` : ''} and MCP-Protocol-Version: ${reqHeader(e, 'mcp-protocol-version') ?? '(none)'}, as its body says: something between mcptap and the server (a gateway, a reverse proxy) dropped or rewrote them.`,
          `Make what sits between mcptap and the server pass the Mcp-Method, Mcp-Name and MCP-Protocol-Version headers on unchanged (or put mcptap right in front of the server to see what reaches it).`,
          { claims: v.exchangeClaims(e) }));
      } else {
        out.push(v.finding('mcp-headers', 'warning',
          `${what} had ${problems.map(said).join(', ')}; the server accepted it`,
          ev,
          `Revision 2026-07-28 requires these headers on every POST, mirroring the body; this server let it pass, a stricter one (the Python SDK 2.x) answers 400 with -32020.`,
          `Send ${problems.map((p) => `\`${p.header}: ${p.body}\``).join(' and ')} as the body says; a gateway in between must pass the Mcp-* headers on unchanged.`,
          { confidence: SPECIFIC.plain }));
      }
    }
    return out;
  },
};

/** The server's own words when it could not send a request of its own for want of a channel (the Python SDK 2.x). */
const NO_BACK_CHANNEL = /no back-?channel|server-initiated request/i;

export const noBackChannel: Rule = {
  id: 'no-back-channel',
  cause: 'protocol',
  confidence: SPECIFIC.certain,
  description: 'A call that failed because the server tried to send a request of its own (elicitation, sampling, roots) where revision 2026-07-28 gives it no channel: the server needs the multi-round-trip form (input_required).',
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const m of input.messages) {
      if (m.direction !== 'server->client' || m.kind !== 'error') continue;
      const text = errorText(m);
      if (!NO_BACK_CHANNEL.test(text)) continue;
      const req = m.correlatedSeq != null ? v.bySeq.get(m.correlatedSeq) : undefined;
      const what = req ? `${req.method}${req.subject ? ' ' + req.subject : ''}` : 'a request';
      const asked = /'([a-z]+\/[A-Za-z/]+)'/.exec(text)?.[1] ?? 'a request of its own';
      const e = v.exchangeOf(m);
      out.push(v.finding('no-back-channel', 'error',
        `${what} failed: the server tried to send ${asked} mid-call, and revision 2026-07-28 has no channel for that`,
        { messageSeqs: [...(req ? [req.seq] : []), m.seq], exchangeIds: e ? [e.id] : [] },
        `Without sessions and the GET stream, a server cannot send the client a request of its own (elicitation/create, sampling/createMessage, roots/list) while it handles a call. The revision's way is a multi round-trip: the server answers with resultType "input_required" and inputRequests, and the client retries the call with inputResponses. This server (or its tool) still asks mid-call, so the call failed${e?.status ? ` (HTTP ${e.status})` : ''} and the client got "${text}".`,
        `Make the tool ask through the multi-round-trip form: in the Python SDK 2.x, take the answer as a parameter annotated \`Annotated[T, Resolve(fn)]\` whose resolver returns \`Elicit[...]\` (or return an InputRequiredResult), instead of calling ctx.elicit() (which works only for clients on 2025-11-25 or older).`,
        { claims: { messageSeqs: [...(req ? [req.seq] : []), m.seq], exchangeIds: e ? [e.id] : [] } }));
    }
    return out;
  },
};
