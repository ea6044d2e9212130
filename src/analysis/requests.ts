import { LISTEN } from '../wire/mcp-2026.js';
import type { Exchange, RpcMessage, Session } from '../model/model.js';
import type { StreamFacts } from '../capture/streams.js';
import { header, mediaType } from '../model/headers.js';

/** The request facts that explain a hang: what it waited on, who gave up first, and when its answer came. */
export interface RequestFacts {
  request: RpcMessage;
  /** The exchange whose stream the answer was due on (a POST's own stream, the legacy GET stream, the WebSocket). */
  waitsOn: string | null;
  answer: RpcMessage | null;
  /** The sender's notifications/cancelled for it, if any. */
  cancel: RpcMessage | null;
  /** When the client (the sender) stopped waiting: its cancellation, or the close of the stream it waited on. */
  gaveUpAt: number | null;
  gaveUpHow: 'cancelled' | 'closed-stream' | null;
  /** The answer came after the sender had given up (it was thrown away). */
  late: boolean;
  /** The answer came after the stream it was due on had closed: the client cannot have seen it. */
  unseen: boolean;
  /** notifications/progress for it, in order. */
  progress: RpcMessage[];
}

const ts = (e: Exchange | undefined, f: StreamFacts | undefined) => f?.closedAt ?? e?.endedAt ?? null;

/** Event streams a session had, by exchange: what the store recorded, else what the exchange says. */
export function isStreamExchange(e: Exchange): boolean {
  return e.kind !== 'http' || mediaType(header(e.responseHeaders, 'content-type')) === 'text/event-stream';
}

/**
 * Facts of every request of a session, both directions (a server's elicitation waits on the client too).
 * `streams` are the recorded stream facts (absent for imported sessions: exchanges say the rest).
 */
export function requestFacts(session: Session, messages: RpcMessage[], exchanges: Exchange[], streams: StreamFacts[] = []): RequestFacts[] {
  const byId = new Map(exchanges.map((e) => [e.id, e]));
  const facts = new Map(streams.map((f) => [f.exchangeId, f]));
  const bySeq = new Map(messages.map((m) => [m.seq, m]));
  const cancels = new Map<string, RpcMessage>();
  const progress = new Map<string, RpcMessage[]>();
  for (const m of messages) {
    if (m.kind !== 'notification') continue;
    if (m.method === 'notifications/cancelled') {
      const id = parsed(m)?.params?.requestId;
      if (id != null) cancels.set(`${m.direction}|${JSON.stringify(id)}`, m);
    } else if (m.method === 'notifications/progress') {
      const token = parsed(m)?.params?.progressToken;
      if (token == null) continue;
      const key = `${m.direction}|${JSON.stringify(token)}`;
      const list = progress.get(key);
      if (list) list.push(m);
      else progress.set(key, [m]);
    }
  }
  const legacyStreams = session.transport === 'sse'
    ? exchanges.filter((e) => e.method === 'GET' && isStreamExchange(e)).sort((a, b) => a.startedAt - b.startedAt)
    : [];
  const out: RequestFacts[] = [];
  for (const m of messages) {
    if (m.kind !== 'request') continue;
    const answer = m.correlatedSeq != null ? bySeq.get(m.correlatedSeq) ?? null : null;
    let waitsOn = m.exchangeId;
    // A legacy client's POST is answered 202 at once; the answer comes on the GET stream open at the time.
    if (session.transport === 'sse' && m.direction === 'client->server') {
      waitsOn = legacyStreams.findLast((e) => e.startedAt <= m.ts && (e.endedAt == null || e.endedAt >= m.ts))?.id ?? null;
    }
    const stream = waitsOn ? byId.get(waitsOn) : undefined;
    const closedAt = ts(stream, waitsOn ? facts.get(waitsOn) : undefined);
    const closedByClient = (waitsOn && facts.get(waitsOn)?.closedBy === 'client') || stream?.closedBy === 'client';
    const cancel = cancels.get(`${m.direction}|${JSON.stringify(m.rpcId)}`) ?? null;
    let gaveUpAt: number | null = null;
    let gaveUpHow: RequestFacts['gaveUpHow'] = null;
    if (cancel && cancel.ts >= m.ts) {
      gaveUpAt = cancel.ts;
      gaveUpHow = 'cancelled';
    }
    if (closedByClient && closedAt != null && closedAt >= m.ts && (!answer || closedAt < answer.ts) && (gaveUpAt == null || closedAt < gaveUpAt)) {
      gaveUpAt = closedAt;
      gaveUpHow = 'closed-stream';
    }
    // A subscription (2026-07-28) ends when its client closes or cancels it: that is its normal end, not giving up.
    if (m.method === LISTEN && m.direction === 'client->server') gaveUpAt = gaveUpHow = null;
    const late = !!answer && gaveUpAt != null && answer.ts > gaveUpAt;
    const unseen = late && closedAt != null && answer!.ts > closedAt;
    const token = parsed(m)?.params?._meta?.progressToken;
    const other = m.direction === 'client->server' ? 'server->client' : 'client->server';
    const prog = token != null ? progress.get(`${other}|${JSON.stringify(token)}`) ?? [] : [];
    out.push({ request: m, waitsOn, answer, cancel, gaveUpAt, gaveUpHow, late, unseen, progress: prog });
  }
  return out;
}

/** The age of a request when its client gave up. */
export function ageAtGiveUp(r: RequestFacts): number | null {
  return r.gaveUpAt == null ? null : r.gaveUpAt - r.request.ts;
}

function parsed(m: RpcMessage): any {
  if (m.kind === 'non-json') return undefined;
  try {
    return JSON.parse(m.payload);
  } catch {
    // A payload cut at its cap still names its method and ids near the start.
    const id = /"(requestId|progressToken)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)/.exec(m.payload);
    if (!id) return undefined;
    return { params: { [id[1]]: JSON.parse(id[2]), _meta: id[1] === 'progressToken' ? { progressToken: JSON.parse(id[2]) } : undefined } };
  }
}
