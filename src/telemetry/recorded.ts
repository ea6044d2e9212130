import type { Exchange, RpcMessage, Session } from '../model/model.js';
import type { CaptureStore } from '../store/read.js';
import { TurnReader } from '../store/turns-read.js';
import { runChecks } from '../analysis/checks/engine.js';
import type { Finding } from '../analysis/checks/types.js';
import { header } from '../model/headers.js';
import { isOperation, mcpSpan, parsePayload } from './mcp-span.js';
import { ConversationTracer } from './model-spans.js';
import { clientPlace, spanIds, type Place, type TelemetrySpan } from './span.js';
import { findingEvent } from './findings.js';

/**
 * Spans of recorded sessions, with their recorded times and ids derived from the sessions, for
 * `mcptap export --otlp`. A conversation's MCP calls hang under its execute_tool spans through the
 * join the store keeps; findings of `mcptap check` become events on the spans they name.
 */
export function recordedSpans(store: CaptureStore, sessions: Session[], opts: { payloads?: boolean } = {}): TelemetrySpan[] {
  const turns = new TurnReader(store);
  const promptStarts = new Map<string, Map<number, number>>();
  const promptOf = (conversation: string, turnSeq: number): number => {
    let m = promptStarts.get(conversation);
    if (!m) {
      m = new Map();
      let start = -1;
      for (const t of turns.turns(conversation)) {
        if (!t.toolResults.length || start < 0) start = t.seq;
        m.set(t.seq, start);
      }
      promptStarts.set(conversation, m);
    }
    return m.get(turnSeq) ?? turnSeq;
  };
  const out: TelemetrySpan[] = [];
  for (const session of sessions) {
    const exchanges = new Map(store.exchanges(session.id).map((e) => [e.id, e]));
    const spans = session.transport === 'model-api'
      ? conversationSpans(store, turns, session, exchanges, opts)
      : mcpSessionSpans(store, turns, session, exchanges, promptOf, opts);
    attachFindings(store, turns, session, exchanges, spans);
    out.push(...spans);
  }
  return out;
}

function conversationSpans(store: CaptureStore, turns: TurnReader, session: Session, exchanges: Map<string, Exchange>, opts: { payloads?: boolean }): TelemetrySpan[] {
  const answeredAt = (call: { session: string; seq: number }) => {
    const req = store.message(call.session, call.seq);
    return req?.correlatedSeq != null ? store.message(call.session, req.correlatedSeq)?.ts ?? null : null;
  };
  const tracer = new ConversationTracer(session, {
    link: (u) => ({ linked: u.mcpCall != null, answeredAt: u.mcpCall ? answeredAt(u.mcpCall) : null }),
    clientPlace: (id) => clientPlace(null, header(exchanges.get(id)?.requestHeaders, 'traceparent')),
    payloads: opts.payloads,
  });
  const conv = turns.conversation(session);
  const spans = conv.turns.flatMap((t) => tracer.addTurn(t));
  return [...spans, ...tracer.finish()];
}

function mcpSessionSpans(store: CaptureStore, turns: TurnReader, session: Session, exchanges: Map<string, Exchange>,
  promptOf: (conversation: string, turnSeq: number) => number, opts: { payloads?: boolean }): TelemetrySpan[] {
  const caused = turns.causedCalls(session);
  const own: Place = { traceId: spanIds.sessionTrace(session.id), parentSpanId: null };
  const messages = [...store.iterateMessages(session.id)];
  const bySeq = new Map(messages.map((m) => [m.seq, m]));
  const spans: TelemetrySpan[] = [];
  for (const m of messages) {
    if (!isOperation(m)) continue;
    const ex = m.exchangeId ? exchanges.get(m.exchangeId) : undefined;
    const cause = caused.get(m.seq);
    const place = clientPlace(parsePayload(m)?.params?._meta, header(ex?.requestHeaders, 'traceparent'))
      ?? (cause ? { traceId: spanIds.promptTrace(cause.conversation, promptOf(cause.conversation, cause.turn)), parentSpanId: spanIds.tool(cause.conversation, cause.toolUse) } : own);
    const response = m.correlatedSeq != null ? bySeq.get(m.correlatedSeq) ?? null : null;
    spans.push(mcpSpan({ session, request: m, response, failure: ex?.failure ?? null, httpStatus: ex?.status ?? null, endedAt: ex?.endedAt ?? session.endedAt }, place, opts));
  }
  return spans;
}

/** `mcptap check`'s findings for the session, each an event on the spans of the messages or turns it names. */
function attachFindings(store: CaptureStore, turns: TurnReader, session: Session, exchanges: Map<string, Exchange>, spans: TelemetrySpan[]): void {
  if (!spans.length) return;
  let findings: Finding[];
  try {
    findings = runChecks({
      session, messages: [...store.iterateMessages(session.id)], exchanges: [...exchanges.values()], streams: store.streams(session.id),
      conversation: session.transport === 'model-api' ? turns.context(session) : undefined,
    });
  } catch {
    return;
  }
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const messages = new Map<number, RpcMessage>();
  for (const f of findings.flatMap((x) => [x, ...(x.caused ?? [])])) {
    const targets = new Set<TelemetrySpan>();
    for (const seq of f.evidence.turnSeqs ?? []) {
      const s = byId.get(spanIds.turn(session.id, seq));
      if (s) targets.add(s);
    }
    for (const seq of f.evidence.messageSeqs) {
      const m = messages.get(seq) ?? store.message(session.id, seq);
      if (!m) continue;
      messages.set(seq, m);
      const reqSeq = m.kind === 'request' ? m.seq : m.correlatedSeq;
      const s = reqSeq != null ? byId.get(spanIds.mcp(session.id, reqSeq)) : undefined;
      if (s) targets.add(s);
    }
    for (const s of targets) s.events.push(findingEvent(f, s.end));
  }
}
