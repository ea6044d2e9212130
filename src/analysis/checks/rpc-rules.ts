import { LISTEN } from '../../wire/mcp-2026.js';
import { OPEN_LIVE_MS } from '../../store/liveness.js';
import type { RpcMessage } from '../../model/model.js';
import { decodeErrorOf, decodeErrorWords, isProbe, misnamedEvent, payload, SessionView, unexpectedAnswer } from './context.js';
import { SPECIFIC, type CheckInput, type Finding, type Rule } from './types.js';

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

const norm = (s: string) => s.toLowerCase().replace(/[-_.:/]+/g, '_');

/** Why a called name is not in the list: a gateway prefix, an mcp__server__tool name, a separator. */
export function explainToolName(name: string, tools: string[]): { closest: string[]; reason: string | null; suggestion: string | null } {
  const prefixed = tools.filter((t) => t.endsWith(name) && t.length > name.length);
  if (prefixed.length) {
    const prefix = prefixed[0].slice(0, prefixed[0].length - name.length);
    return { closest: prefixed.slice(0, 3), reason: `the server (or gateway) lists it with the prefix '${prefix}'`, suggestion: prefixed[0] };
  }
  const stripped = tools.filter((t) => name.endsWith(t) && name.length > t.length);
  if (stripped.length) {
    return { closest: stripped.slice(0, 3), reason: `the client added the prefix '${name.slice(0, name.length - stripped[0].length)}', which the server does not use`, suggestion: stripped[0] };
  }
  const claude = /^mcp__[^_]+(?:_[^_]+)*?__(.+)$/.exec(name);
  if (claude && tools.includes(claude[1])) {
    return { closest: [claude[1]], reason: `the client sent its own namespaced name (mcp__server__tool); the server knows it as '${claude[1]}'`, suggestion: claude[1] };
  }
  const sep = tools.filter((t) => norm(t) === norm(name) || norm(t).endsWith('_' + norm(name)));
  if (sep.length) return { closest: sep.slice(0, 3), reason: `the names differ in separators ('${name}' vs '${sep[0]}')`, suggestion: sep[0] };
  const closest = [...tools].sort((x, y) => distance(name, x) - distance(name, y)).slice(0, 3);
  return { closest, reason: null, suggestion: null };
}

export const unknownTool: Rule = {
  id: 'unknown-tool',
  description: "A tools/call whose name is not in the session's latest tools/list result, every page of it (the cause of 'No such tool available').",
  cause: 'tools',
  confidence: SPECIFIC.certain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    let tools: string[] | null = null;
    let listSeq: number | null = null;
    for (const m of input.messages) {
      if (m.kind === 'response' && m.method === 'tools/list') {
        const list = payload(m)?.result?.tools;
        if (Array.isArray(list)) {
          // A page after the first (its request had a cursor) adds to the list; a new listing replaces it.
          const req = m.correlatedSeq != null ? v.bySeq.get(m.correlatedSeq) : undefined;
          const names = list.map((t: { name: string }) => t.name);
          tools = tools && req && payload(req)?.params?.cursor != null ? tools.concat(names) : names;
          listSeq = m.seq;
        }
        continue;
      }
      if (m.kind !== 'request' || m.method !== 'tools/call' || m.direction !== 'client->server' || !m.subject) continue;
      const answer = m.correlatedSeq != null ? v.bySeq.get(m.correlatedSeq) : undefined;
      const answerText = answer ? answer.payload : '';
      const refused = !!answer && (answer.kind === 'error' || answer.isError) && /not found|unknown tool|no such tool|invalid tool/i.test(answerText);
      if (tools ? tools.includes(m.subject) : !refused) continue;
      const known = tools ?? [];
      const why = explainToolName(m.subject, known);
      const seqs = [m.seq, ...(answer ? [answer.seq] : []), ...(listSeq ? [listSeq] : [])];
      out.push(v.finding('unknown-tool', 'error',
        `tools/call ${m.subject}: no such tool${why.reason ? ` — ${why.reason}` : tools ? '' : ' (the server said so)'}`,
        { messageSeqs: seqs, exchangeIds: m.exchangeId ? [m.exchangeId] : [] },
        tools
          ? `The client called '${m.subject}', but the latest tools/list of this session (#${listSeq}) has ${known.length} tools${why.closest.length ? `; the closest are ${why.closest.map((t) => `'${t}'`).join(', ')}` : ''}. ${why.reason ? `The names do not match because ${why.reason}.` : ''}`.trim()
          : `The server answered that '${m.subject}' does not exist; the client never listed tools in this session, so it called a name it remembered from elsewhere.`,
        why.suggestion
          ? `Call '${why.suggestion}'. With a gateway that prefixes tool names (LiteLLM: '<server_name>-<tool>'), reconnect the client so it lists tools through the gateway, and use those names.`
          : `Reconnect the client so it lists tools again (Claude Code: /mcp), and call a name from that list.`,
        // It explains the call and its answer; the tool list is evidence, not something that went wrong.
        { claims: { messageSeqs: seqs.filter((s) => s !== listSeq) } }));
    }
    return out;
  },
};

export const unanswered: Rule = {
  id: 'unanswered',
  description: 'Requests with no response, responses with no request, duplicate ids in flight, cancelled requests.',
  cause: 'protocol',
  // Something else (a refusal, a cut stream, a lost session) is usually why.
  confidence: SPECIFIC.generic,
  check(input, opts) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    const last = input.session.endedAt ?? input.messages.at(-1)?.ts ?? input.session.startedAt;
    const inflight = new Map<string, RpcMessage>();
    // Requests their sender cancelled (notifications/cancelled from the same side): the receiver should
    // not answer them, so no answer is no fault (Claude Code cancels a tool call when the user presses Esc).
    const cancelled = new Set<string>();
    for (const m of input.messages) {
      if (m.kind !== 'notification' || m.method !== 'notifications/cancelled') continue;
      const id = payload(m)?.params?.requestId;
      if (id != null) cancelled.add(`${m.direction}|${typeof id}|${id}`);
    }
    for (const m of input.messages) {
      const key = `${m.direction}|${typeof m.rpcId}|${m.rpcId}`;
      if (m.kind === 'request' && m.rpcId != null) {
        const prev = inflight.get(key);
        // A request refused or redirected at the HTTP level is over: a client may send it again with the same id
        // (Claude Code retries its probe, and re-sends each request LiteLLM redirects from /mcp to /mcp/).
        const over = (r: RpcMessage) => (r.correlatedSeq != null && r.correlatedSeq < m.seq) || answeredAtHttp(v.exchangeOf(r));
        if (prev && !over(prev)) {
          out.push(v.finding('unanswered', 'error',
            `id ${JSON.stringify(m.rpcId)} used again (#${m.seq} ${m.method}) while #${prev.seq} ${prev.method} was still waiting`,
            { messageSeqs: [prev.seq, m.seq] },
            `JSON-RPC ids must be unique among requests in flight; the answers can no longer be told apart.`,
            `Fix the sender's id counter; a gateway that merges clients must rewrite ids.`));
        }
        inflight.set(key, m);
      }
      if (m.kind === 'notification' && m.method === 'notifications/cancelled') {
        const p = payload(m)?.params;
        out.push(v.finding('unanswered', 'info',
          `${m.direction === 'client->server' ? 'the client' : 'the server'} cancelled request ${JSON.stringify(p?.requestId)}${p?.reason ? `: ${p.reason}` : ''}`,
          { messageSeqs: [m.seq] },
          `A cancellation usually follows a timeout on the sender's side.`,
          `If this was a timeout, make the tool report progress, or raise the client's timeout (Claude Code: MCP_TOOL_TIMEOUT).`));
      }
      // The Python SDK refuses at the HTTP level (406, 400, 405) with a JSON-RPC error whose id is "server-error":
      // it answers the HTTP request, not a JSON-RPC one.
      const sdkRefusal = m.kind === 'error' && m.rpcId === 'server-error' && (v.exchangeOf(m)?.status ?? 0) >= 400;
      if ((m.kind === 'response' || m.kind === 'error') && m.correlatedSeq == null && m.rpcId != null && !sdkRefusal) {
        out.push(v.finding('unanswered', 'warning',
          `a ${m.kind} with id ${JSON.stringify(m.rpcId)} answers no request of this session`,
          { messageSeqs: [m.seq] },
          `No request with that id was seen in this session: it was sent before the capture started, on another session, or the id was rewritten by something in between.`,
          `If a gateway sits in between, check that it maps ids back to the client's.`));
      }
      if (m.kind !== 'request' || m.correlatedSeq != null || m.rpcId == null) continue;
      if (cancelled.has(key)) continue;
      // A subscription (2026-07-28) has no answer while it lasts: its end is the stream's (subscription-dropped).
      if (m.method === LISTEN && m.direction === 'client->server') continue;
      const waited = last - m.ts;
      if (opts.live && waited < 30_000) continue;
      const ex = v.exchangeOf(m);
      // A request the server refused or redirected at the HTTP level got its answer there, and so did one
      // answered with a web page or with something that is not JSON.
      if (ex?.status != null && ex.status >= 300) continue;
      if (ex && (unexpectedAnswer(v, ex) || v.messagesOf(ex.id).some((x) => x.direction !== m.direction && (x.kind === 'non-json' || x.kind === 'invalid')))) continue;
      const streamClosed = ex?.endedAt != null;
      // A server request that reached a client already on its way out (server-everything asks for roots
      // 350 ms after `initialized`): the client closed the connection and said nothing more, so it had no
      // chance to answer, which is no fault of either side.
      if (m.direction === 'server->client' && (ex?.closedBy === 'client' || ex?.aborted) && !input.messages.some((x) => x.direction === 'client->server' && x.seq > m.seq)) {
        out.push(v.finding('unanswered', 'info',
          `server→client ${m.method}${m.subject ? ' ' + m.subject : ''} (id ${JSON.stringify(m.rpcId)}) was not answered: the client closed the connection first, sending nothing after it`,
          { messageSeqs: [m.seq], exchangeIds: [ex.id] },
          `The request arrived as the client was closing the session; a client that is leaving does not answer.`,
          `Nothing to fix unless the client closed because of this request.`,
          { claims: { messageSeqs: [m.seq] } }));
        continue;
      }
      // mcptap itself stopped (Ctrl-C) with the call in flight: the answer could not come through, which says
      // nothing of the server (progress that had arrived says it was working).
      if (m.direction === 'client->server' && proxyStoppedDuring(input.session, ex)) {
        const progress = input.messages.filter((x) => x.direction === 'server->client' && x.method === 'notifications/progress' && x.seq > m.seq && x.exchangeId === m.exchangeId).length;
        out.push(v.finding('unanswered', 'info',
          `${m.method}${m.subject ? ' ' + m.subject : ''} (id ${JSON.stringify(m.rpcId)}) was in flight when the proxy shut down${progress ? ` (${progress} progress notification${progress > 1 ? 's' : ''} had arrived)` : ''}`,
          { messageSeqs: [m.seq], exchangeIds: ex ? [ex.id] : [] },
          `mcptap stopped after ${(waited / 1000).toFixed(1)}s with this request still waiting, so its answer was never seen${progress ? '; the server was still reporting progress' : ''}. This is the proxy shutting down, not a fault of the server or the client.`,
          `Nothing to fix; to see the answer, let the call finish before stopping mcptap.`,
          { claims: { messageSeqs: [m.seq], exchangeIds: ex ? [ex.id] : [] } }));
        continue;
      }
      // Read from the database while the proxy still records the session, a request whose exchange is still
      // open is in flight (a long tool, or a message held at the intercept), not unanswered. A proxy that died
      // leaves both open for good: past OPEN_LIVE_MS it is the capture that ended.
      const clock = opts.now ?? Date.now();
      if (!opts.live && input.session.endedAt == null && ex && ex.endedAt == null && clock - m.ts < OPEN_LIVE_MS) {
        out.push(v.finding('unanswered', 'info',
          `${m.direction === 'client->server' ? '' : 'server→client '}${m.method}${m.subject ? ' ' + m.subject : ''} (id ${JSON.stringify(m.rpcId)}) is still waiting, ${((clock - m.ts) / 1000).toFixed(1)}s after it was sent`,
          { messageSeqs: [m.seq], exchangeIds: [ex.id] },
          `The session is still being recorded and the request's ${ex.method} is still open: its answer may yet come (or the request is held at mcptap's intercept).`,
          `Nothing to fix yet; check again once the call has finished, or watch it live (mcptap tui).`,
          { claims: { messageSeqs: [m.seq], exchangeIds: [ex.id] } }));
        continue;
      }
      out.push(v.finding('unanswered', 'error',
        `${m.direction === 'client->server' ? '' : 'server→client '}${m.method}${m.subject ? ' ' + m.subject : ''} (id ${JSON.stringify(m.rpcId)}) got no response; waited ${(waited / 1000).toFixed(1)}s`,
        { messageSeqs: [m.seq], exchangeIds: ex ? [ex.id] : [] },
        streamClosed ? 'The connection that should have carried the answer closed first.' : 'No answer arrived before the capture ended.',
        m.direction === 'client->server'
          ? `Look at the server's log for this request; for long tools, send progress notifications so clients do not give up, and check gateway timeouts on streaming responses.`
          : `The client did not answer the server's ${m.method}; check that it supports it (capabilities) and is not blocked waiting for a person.`,
        // The exchange is where to look; a server request rides the stream every other message does too.
        { claims: m.direction === 'client->server' ? { messageSeqs: [m.seq], exchangeIds: ex ? [ex.id] : [] } : { messageSeqs: [m.seq] } }));
    }
    return out;
  },
};

/** The session ended because mcptap stopped, with this exchange still open then (or closed as it stopped). */
function proxyStoppedDuring(session: CheckInput['session'], ex: { endedAt: number | null; closedBy: 'client' | 'server' | null } | undefined): boolean {
  if (session.endReason !== 'proxy-stopped' || session.endedAt == null) return false;
  // A stream the server ended is the server's doing, however soon the proxy stopped after.
  return !ex || ex.endedAt == null || (ex.closedBy !== 'server' && Math.abs(session.endedAt - ex.endedAt) < 1000);
}

/** The exchange was refused with an HTTP error status (what it carried answers the HTTP request, not a call). */
const refusedAtHttp = (e: { status: number | null } | undefined) => e?.status != null && e.status >= 400;
/** Refused or redirected at the HTTP level: the request is over, whatever it carried. */
const answeredAtHttp = (e: { status: number | null } | undefined) => e?.status != null && e.status >= 300;

const SPEC_CODES = new Set([-32700, -32600, -32601, -32602, -32603, -32002, -32042, -32001, -32000]);

export const invalidJsonRpc: Rule = {
  id: 'invalid-jsonrpc',
  description: 'Invalid JSON-RPC (missing jsonrpc "2.0", bad ids), reserved error codes outside the spec, non-JSON bodies, batches where the version forbids them.',
  cause: 'protocol',
  confidence: SPECIFIC.plain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    const noBatches = (input.session.protocolVersion ?? '') >= '2025-06-18';
    for (const m of input.messages) {
      const who = m.direction === 'client->server' ? 'the client' : 'the server';
      if (decodeErrorOf(m, 'unfinished-sse-event') != null) {
        // The answer it carried is lost with it: that, not the stream's end, is why its request hung.
        const req = m.rpcId != null ? input.messages.find((r) => r.kind === 'request' && r.direction !== m.direction && r.rpcId === m.rpcId && r.seq < m.seq) : undefined;
        const seqs = req ? [req.seq, m.seq] : [m.seq];
        const exchangeIds = m.exchangeId ? [m.exchangeId] : [];
        out.push(v.finding('invalid-jsonrpc', 'error', `${who}'s stream ended inside an SSE event${req ? ` (the answer to ${req.method}${req.subject ? ' ' + req.subject : ''})` : ''}: no client read it`, { messageSeqs: seqs, exchangeIds },
          `The event has no blank line after it: an SSE client dispatches an event only at that blank line and drops what is pending when the stream ends${req ? `, so ${req.method} got no answer` : ''}.`,
          `Make the server end each event with a blank line ("\\n\\n") and flush it before closing the stream.`,
          { claims: { messageSeqs: seqs, exchangeIds }, confidence: SPECIFIC.certain + 0.05 }));
      } else if (decodeErrorOf(m, 'over-limit') != null) {
        // Cut by mcptap's own decoding limit, not by the peer: nothing to say about the sender.
      } else if (m.kind === 'invalid') {
        const misnamed = misnamedEvent(m);
        out.push(v.finding('invalid-jsonrpc', 'error', `${who} sent invalid JSON-RPC: ${decodeErrorWords(m)}`, { messageSeqs: [m.seq] },
          misnamed != null
            ? `The event carries JSON-RPC, but under the name "${misnamed}": MCP clients dispatch only events with no "event:" line or "event: message", and drop the rest unread.`
            : `The message parses as JSON but is not a valid JSON-RPC 2.0 message, so the other side will reject or ignore it.`,
          misnamed != null
            ? `Send JSON-RPC as "event: message" (or with no event line).`
            : `Fix the sender to emit {"jsonrpc":"2.0", …} with a string or number id.`));
      } else if (m.kind === 'non-json') {
        out.push(v.finding('invalid-jsonrpc', 'error', `${who} sent a body that is not JSON where JSON-RPC was expected (${decodeErrorWords(m).slice(0, 80)})`, { messageSeqs: [m.seq], exchangeIds: m.exchangeId ? [m.exchangeId] : [] },
          `Starts with: ${JSON.stringify(m.payload.slice(0, 80))}. An HTML error page or plain-text message from a proxy or gateway often lands here.`,
          `Find what produced it (see the exchange's status and headers); a gateway error page means the request never reached the MCP server.`,
          { claims: { messageSeqs: [m.seq] } }));
      } else if (m.kind === 'error' && m.errorCode != null && m.errorCode <= -32000 && m.errorCode >= -32768 && !SPEC_CODES.has(m.errorCode) && !(m.errorCode > -32100)) {
        out.push(v.finding('invalid-jsonrpc', 'warning', `error code ${m.errorCode} is in the reserved range but not defined by JSON-RPC or MCP`, { messageSeqs: [m.seq] },
          `Codes from -32768 to -32000 are reserved; only -32700, -32600…-32603, -32000…-32099 (server errors) and MCP's own codes are defined.`,
          `Use a defined code, or one outside the reserved range for application errors.`));
      }
      if (m.batchIndex === 0 && noBatches) {
        out.push(v.finding('invalid-jsonrpc', 'error', `${who} sent a JSON-RPC batch, which protocol ${input.session.protocolVersion} does not allow`, { messageSeqs: [m.seq] },
          `Batches were allowed in 2025-03-26 only; from 2025-06-18 on, every message is sent on its own.`,
          `Send messages one at a time, or negotiate 2025-03-26.`));
      }
    }
    return out;
  },
};

/** The server capability a method needs (initialize's answer declares it). */
function capabilityOf(method: string): string | null {
  const m = /^(tools|resources|prompts)\//.exec(method);
  if (m) return m[1];
  if (method === 'logging/setLevel') return 'logging';
  if (method === 'completion/complete') return 'completions';
  return null;
}

const RPC_ERROR_FIX: Record<number, string> = {
  [-32602]: `Check the params against what the server expects (a tool's inputSchema in tools/list).`,
  [-32603]: `The server failed while handling it: look at its log at that time.`,
  [-32002]: `Ask for a URI the server lists (resources/list or a resource template).`,
};

export const rpcErrors: Rule = {
  id: 'rpc-errors',
  description: 'JSON-RPC error answers to requests: method not found (with the capability the server did or did not declare), invalid params, internal errors, resource not found.',
  cause: 'protocol',
  confidence: SPECIFIC.plain,
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    // Declared in the initialize answer, or (2026-07-28, no handshake) in server/discover's, kept on the session.
    const caps = (payload(v.initialize().response)?.result?.capabilities ?? input.session.serverCapabilities ?? null) as Record<string, unknown> | null;
    for (const m of input.messages) {
      if (m.kind !== 'error' || m.correlatedSeq == null) continue;
      const request = v.bySeq.get(m.correlatedSeq);
      if (!request?.method) continue;
      // The body of an HTTP refusal (an error status) answers the HTTP request: the call never started.
      if (refusedAtHttp(v.exchangeOf(m))) continue;
      const err = payload(m)?.error as { code?: number; message?: string } | undefined;
      const text = `${err?.message ?? ''}`;
      // Claude Code's 2026-07-28 probe: a server that does not know it says so, and the client falls back to initialize.
      if (isProbe(request)) continue;
      // A subscription (2026-07-28) the server closed because its client left (stdio: its input closed, the
      // Python SDK answers "Connection closed"): that is how a subscription ends, not a failed call.
      if (request.method === LISTEN && request.direction === 'client->server' && /connection closed/i.test(text) &&
        !input.messages.some((x) => x.direction === 'client->server' && x.seq > m.seq)) continue;
      const code = m.errorCode;
      const by = m.direction === 'server->client' ? 'the server' : 'the client';
      const what = `${request.method}${request.subject ? ' ' + request.subject : ''}`;
      let fix = code != null ? RPC_ERROR_FIX[code] : undefined;
      let why = `${by === 'the server' ? 'The server' : 'The client'} answered the request with a JSON-RPC error: the call did not happen.`;
      if (code === -32601) {
        const cap = capabilityOf(request.method);
        const declared = cap != null && caps != null && caps[cap] != null;
        why = by === 'the server'
          ? cap
            ? declared
              ? `The server declared "${cap}" in its initialize answer but does not implement ${request.method}: a server bug.`
              : `The server's initialize answer does not declare "${cap}", so it has no ${request.method}; a client should not call it.`
            : `The server does not implement ${request.method}.`
          : `The client does not implement ${request.method}; the server should only send what the client's capabilities declare.`;
        fix = by === 'the server' && cap && !declared
          ? `Call only what the server declares; if it should have ${cap}, enable it on the server (or the gateway in front of it).`
          : `Implement ${request.method}, or stop sending it.`;
      }
      out.push(v.finding('rpc-errors', 'warning',
        `${what} (id ${JSON.stringify(request.rpcId)}) was answered by ${by} with error ${code ?? '?'}: ${text.replace(/\s+/g, ' ').slice(0, 120)}`,
        { messageSeqs: [request.seq, m.seq], exchangeIds: m.exchangeId ? [m.exchangeId] : [] },
        why,
        fix ?? `Read the error's message and data (#${m.seq}); compare with a known-good session (mcptap diff).`,
        { claims: { messageSeqs: [request.seq, m.seq] } }));
    }
    return out;
  },
};

export const toolErrors: Rule = {
  id: 'tool-errors',
  description: 'Tool results with isError: true, and calls slower than --slow MS.',
  cause: 'tools',
  // A tool that says it failed: a finding that says why (a wrong name) tells it better.
  confidence: SPECIFIC.generic,
  check(input, opts) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const m of input.messages) {
      if (m.direction !== 'server->client' || m.method !== 'tools/call') continue;
      if (m.kind === 'response' && m.isError) {
        const text = payload(m)?.result?.content?.find((c: { text?: string }) => c?.text)?.text as string | undefined;
        out.push(v.finding('tool-errors', 'warning', `tools/call ${m.subject ?? '?'} returned isError${text ? `: ${text.replace(/\s+/g, ' ').slice(0, 100)}` : ''}`,
          { messageSeqs: [m.correlatedSeq ?? m.seq, m.seq] },
          `The tool ran and reported a failure (the model sees it as a tool result, not a protocol error).`,
          `Check the arguments the client sent (#${m.correlatedSeq ?? '?'}) and the tool's own logs.`));
      }
      if ((m.kind === 'response' || m.kind === 'error') && m.latencyMs != null && m.latencyMs > opts.slowMs) {
        out.push(v.finding('tool-errors', 'warning', `tools/call ${m.subject ?? '?'} took ${(m.latencyMs / 1000).toFixed(2)}s (over --slow ${opts.slowMs} ms)`,
          { messageSeqs: [m.correlatedSeq ?? m.seq, m.seq] },
          `Slow calls hit client timeouts (and make the model wait).`,
          `Send progress notifications from long tools; raise the client's tool timeout if needed (Claude Code: MCP_TOOL_TIMEOUT).`));
      }
    }
    return out;
  },
};
