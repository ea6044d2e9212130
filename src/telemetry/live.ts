import type { CaptureHub } from '../capture/hub.js';
import type { Exchange, Failure, RpcMessage, Session } from '../model/model.js';
import type { Turn } from '../capture/turn.js';
import { joinTurns } from '../capture/conversation.js';
import { canonicalJson, mcpToolName } from '../capture/join.js';
import { header } from '../model/headers.js';
import { isOperation, mcpSpan, parsePayload } from './mcp-span.js';
import { ConversationTracer } from './model-spans.js';
import { clientPlace, spanIds, type Place, type TelemetrySpan } from './span.js';

/** What the live tracer remembers at most of each kind: a long-running proxy holds nothing forever. */
const MAX_OPEN = 10_000;
const MAX_EXCHANGES = 2_000;
const MAX_USES = 5_000;
const MAX_SESSIONS = 5_000;

interface Open {
  request: RpcMessage;
  place: Place;
  /** The tool use a `tools/call` named in `_meta` (read once, so the payload need not be kept). */
  toolUseId: string | null;
}

interface LiveUse {
  conversation: string;
  place: { traceId: string; spanId: string };
  name: string;
  args: string;
  ts: number;
  claimed: boolean;
  answeredAt: number | null;
}

export interface LiveTelemetry {
  /** MCP requests sent and not yet answered. */
  inFlight(): number;
  /** Ends what is still open (the proxy is stopping): unanswered requests and tool uses become spans. */
  finish(): void;
  stop(): void;
}

/** A bounded map that forgets its oldest entry first. */
function remember<K, V>(m: Map<K, V>, k: K, v: V, max: number): void {
  if (m.size >= max) m.delete(m.keys().next().value as K);
  m.set(k, v);
}

/**
 * Spans from the capture hub as exchanges complete: each MCP request when its answer arrives (or its
 * session ends), each model turn when its answer ended, each tool use when its result goes back. Runs
 * where the hub's listeners run, off the forwarding path; `onSpan` must not block (the exporter queues).
 * A `tools/call` joins the tool use that caused it as the store's join does: by the tool-use id Claude
 * Code puts in `_meta`, else by tool name and arguments after the turn that asked.
 */
export function attachTelemetry(hub: CaptureHub, onSpan: (s: TelemetrySpan) => void, opts: { payloads?: boolean } = {}): LiveTelemetry {
  const sessions = new Map<string, Session>();
  const open = new Map<string, Open>();
  const exchanges = new Map<string, { traceparent: string | null; failure: Failure | null; status: number | null; endedAt: number | null }>();
  const tracers = new Map<string, ConversationTracer>();
  const uses = new Map<string, LiveUse>();
  const emit = (s: TelemetrySpan) => {
    try {
      onSpan(s);
    } catch {
      // An exporter's failure is its own to count; the capture goes on.
    }
  };
  const key = (sid: string, seq: number) => `${sid}:${seq}`;

  /** Where a request's span goes; `params` is its parsed `params` (each payload is parsed once). */
  const placeOf = (m: RpcMessage, params: any, toolUseId: string | null): Place => {
    const ex = m.exchangeId ? exchanges.get(m.exchangeId) : undefined;
    const own = clientPlace(params?._meta, ex?.traceparent);
    if (own) return own;
    if (m.method === 'tools/call' && params) {
      const name = String(params.name ?? '');
      const args = canonicalJson(params.arguments ?? {});
      // As the store's join: the tool-use id when the call carries one, else name and arguments after the turn.
      const use = toolUseId ? uses.get(toolUseId) : [...uses.values()].find((u) => !u.claimed && u.name === name && u.args === args && u.ts <= m.ts);
      if (use && !use.claimed) {
        use.claimed = true;
        return { traceId: use.place.traceId, parentSpanId: use.place.spanId };
      }
    }
    return { traceId: spanIds.sessionTrace(m.sessionId), parentSpanId: null };
  };

  const closeRequest = (o: Open, response: RpcMessage | null, endedAt: number | null) => {
    const session = sessions.get(o.request.sessionId);
    if (!session) return;
    const ex = o.request.exchangeId ? exchanges.get(o.request.exchangeId) : undefined;
    emit(mcpSpan({ session, request: o.request, response, failure: ex?.failure ?? null, httpStatus: ex?.status ?? null, endedAt: ex?.endedAt ?? endedAt }, o.place, opts));
    if (response && o.request.method === 'tools/call' && o.place.parentSpanId) {
      const u = (o.toolUseId ? uses.get(o.toolUseId) : undefined) ?? [...uses.values()].find((x) => x.claimed && x.place.spanId === o.place.parentSpanId);
      if (u) u.answeredAt = response.ts;
    }
  };

  const tracerOf = (session: Session): ConversationTracer => {
    let t = tracers.get(session.id);
    if (!t) {
      t = new ConversationTracer(session, {
        link: (u) => {
          const l = uses.get(u.id);
          uses.delete(u.id);
          return { linked: !!l?.claimed, answeredAt: l?.answeredAt ?? null };
        },
        clientPlace: (id) => clientPlace(null, exchanges.get(id)?.traceparent),
        payloads: opts.payloads,
      });
      tracers.set(session.id, t);
    }
    return t;
  };

  const offs = [
    hub.on('session', (s) => {
      if (s.endedAt == null) return void remember(sessions, s.id, s, MAX_SESSIONS);
      if (!sessions.has(s.id)) return;
      sessions.set(s.id, s);
      for (const [k, o] of open) {
        if (o.request.sessionId !== s.id) continue;
        open.delete(k);
        closeRequest(o, null, s.endedAt);
      }
      const t = tracers.get(s.id);
      if (t) for (const span of t.finish()) emit(span);
      tracers.delete(s.id);
      // Ended: nothing more is made of it (a session published again after its end is ignored).
      sessions.delete(s.id);
    }),
    hub.on('exchange', (e: Exchange) => {
      const traceparent = header(e.requestHeaders, 'traceparent');
      // Only what a span may need: the client's trace context, or how an exchange failed.
      if (!traceparent && !e.failure && (e.status ?? 0) < 400 && !exchanges.has(e.id)) return;
      remember(exchanges, e.id, { traceparent, failure: e.failure, status: e.status, endedAt: e.endedAt }, MAX_EXCHANGES);
      // An exchange that failed or was refused will carry no answer now: its requests' spans end with it
      // (a request answered elsewhere, as on a legacy SSE stream, comes on an exchange that did not fail).
      if (e.endedAt == null || (!e.failure && (e.status ?? 0) < 400)) return;
      for (const [k, o] of open) {
        if (o.request.exchangeId !== e.id || o.request.direction !== 'client->server') continue;
        open.delete(k);
        closeRequest(o, null, e.endedAt);
      }
    }),
    hub.on('message', (m, isNew) => {
      if (!isNew) return;
      if (isOperation(m)) {
        // Kept without its payload unless payloads are exported: a long-open request holds little.
        const params = parsePayload(m)?.params;
        const id = m.method === 'tools/call' ? params?._meta?.['claudecode/toolUseId'] : null;
        const toolUseId = typeof id === 'string' ? id : null;
        const place = placeOf(m, params, toolUseId);
        const request = opts.payloads ? m : { ...m, payload: '' };
        remember(open, key(m.sessionId, m.seq), { request, place, toolUseId }, MAX_OPEN);
        return;
      }
      if ((m.kind === 'response' || m.kind === 'error') && m.correlatedSeq != null) {
        const k = key(m.sessionId, m.correlatedSeq);
        const o = open.get(k);
        if (!o) return;
        open.delete(k);
        closeRequest(o, m, m.ts);
      }
    }),
    hub.on('turn', (turn: Turn) => {
      const session = sessions.get(turn.sessionId);
      if (!session || turn.api === 'anthropic-count-tokens') return;
      const tracer = tracerOf(session);
      const [joined] = joinTurns([turn], (t) => t.toolNames ?? [], []);
      for (const span of tracer.addTurn(joined)) emit(span);
      for (const u of turn.toolUses) {
        const place = tracer.placeOfUse(u.id);
        if (!place) continue;
        remember(uses, u.id, { conversation: session.id, place, name: mcpToolName(u.name), args: canonicalJson(u.input ?? {}), ts: turn.ts, claimed: false, answeredAt: null }, MAX_USES);
      }
    }),
  ];

  return {
    inFlight: () => open.size,
    finish() {
      for (const [k, o] of open) {
        open.delete(k);
        closeRequest(o, null, null);
      }
      for (const t of tracers.values()) for (const span of t.finish()) emit(span);
      tracers.clear();
    },
    stop: () => offs.forEach((off) => off()),
  };
}
