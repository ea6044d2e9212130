import type { Exchange, RpcMessage, Session } from '../model/model.js';
import type { StreamFacts } from '../capture/streams.js';
import { header } from '../model/headers.js';
import { isStreamExchange, requestFacts, type RequestFacts } from './requests.js';

/** What a stream was, in the words of the transports. */
/** `post`: a POST that failed before its answer's stream began (its answer was due on it all the same). */
export type StreamKind = 'post-sse' | 'post' | 'standalone-get' | 'legacy-sse' | 'websocket' | 'stdio';

/** How a stream ended. */
export type StreamEnd = 'client-closed' | 'server-ended' | 'reset' | 'proxy-stopped' | 'idle-timeout';

export interface StreamView extends StreamFacts {
  kind: StreamKind;
  exchange: Exchange;
  /** Null while open. */
  end: StreamEnd | null;
  /** Requests still waiting for an answer on it when it closed (seqs). */
  inFlightAtClose: number[];
}

/**
 * A server that ends a stream after this long without sending anything most likely has an idle timeout
 * (a gateway's or load balancer's), not a reason of its own.
 */
export const IDLE_END_MS = 30_000;

function kindOf(session: Session, e: Exchange): StreamKind {
  if (e.kind === 'websocket') return 'websocket';
  if (e.kind === 'process') return 'stdio';
  if (e.method !== 'GET') return isStreamExchange(e) ? 'post-sse' : 'post';
  return session.transport === 'sse' ? 'legacy-sse' : 'standalone-get';
}

/** Facts for an exchange with no recorded row (an imported session, a database from before streams): what its messages say. */
function derived(e: Exchange, own: RpcMessage[]): StreamFacts {
  const fromServer = own.filter((m) => m.direction === 'server->client');
  let silence = 0;
  let last = e.firstByteAt ?? e.startedAt;
  for (const m of fromServer) {
    silence = Math.max(silence, m.ts - last);
    last = m.ts;
  }
  if (e.endedAt != null) silence = Math.max(silence, e.endedAt - last);
  return {
    exchangeId: e.id, sessionId: e.sessionId,
    carrier: e.kind === 'websocket' ? 'websocket' : e.kind === 'process' ? 'stdio' : e.method === 'GET' ? 'get-sse' : 'post-sse',
    openedAt: e.startedAt, firstByteAt: e.firstByteAt, lastEventAt: fromServer.at(-1)?.ts ?? null,
    lastActivityAt: fromServer.at(-1)?.ts ?? e.firstByteAt, events: fromServer.length, keepAlives: 0, bytes: e.responseBytes,
    longestSilenceMs: silence, closedAt: e.endedAt, closedBy: e.closedBy, resumedFrom: header(e.requestHeaders, 'last-event-id') ?? null,
  };
}

function endOf(session: Session, e: Exchange, f: StreamFacts): StreamEnd | null {
  const closedAt = f.closedAt ?? e.endedAt;
  if (closedAt == null) return null;
  if (f.closedBy === 'proxy') return 'proxy-stopped';
  if (session.endReason === 'proxy-stopped' && session.endedAt != null && Math.abs(session.endedAt - closedAt) < 1000 && (e.aborted || f.closedBy == null)) return 'proxy-stopped';
  const by = f.closedBy ?? e.closedBy;
  if (by === 'client') return e.kind === 'websocket' && e.aborted ? 'reset' : 'client-closed';
  // Cut mid-response (or its frames broke): the stream was there and went. An upstream never reached had no stream.
  if (e.failure?.kind === 'body-cut' || e.failure?.kind === 'bad-frames') return 'reset';
  if (closedAt - (f.lastActivityAt ?? f.openedAt) >= IDLE_END_MS) return 'idle-timeout';
  return 'server-ended';
}

/** A session's streams with their facts, how each ended, and what was still waiting on it. */
export function sessionStreams(session: Session, messages: RpcMessage[], exchanges: Exchange[], recorded: StreamFacts[], requests?: RequestFacts[]): StreamView[] {
  const rows = new Map(recorded.map((f) => [f.exchangeId, f]));
  const reqs = requests ?? requestFacts(session, messages, exchanges, recorded);
  const byExchange = new Map<string, RpcMessage[]>();
  for (const m of messages) {
    if (!m.exchangeId) continue;
    const l = byExchange.get(m.exchangeId);
    if (l) l.push(m);
    else byExchange.set(m.exchangeId, [m]);
  }
  const out: StreamView[] = [];
  for (const e of exchanges) {
    const failedPost = e.kind === 'http' && e.method === 'POST' && e.failure?.kind === 'body-cut';
    if (!isStreamExchange(e) && !rows.has(e.id) && !failedPost) continue;
    const f = rows.get(e.id) ?? derived(e, byExchange.get(e.id) ?? []);
    const closedAt = f.closedAt ?? e.endedAt;
    const inFlightAtClose = closedAt == null ? [] : reqs
      .filter((r) => r.waitsOn === e.id && r.request.ts <= closedAt && (!r.answer || r.answer.ts > closedAt) && (r.gaveUpAt == null || r.gaveUpAt >= closedAt))
      .map((r) => r.request.seq);
    out.push({ ...f, closedAt, kind: kindOf(session, e), exchange: e, end: endOf(session, e, f), inFlightAtClose });
  }
  return out.sort((a, b) => a.openedAt - b.openedAt);
}
