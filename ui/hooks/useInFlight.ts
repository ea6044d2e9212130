import { useEffect, useMemo, useState } from 'react';
import type { CaptureStore } from '../../src/store/read.js';
import type { RpcMessage, Session } from '../../src/model/model.js';
import type { StreamFacts } from '../../src/capture/streams.js';
import { requestFacts, type RequestFacts } from '../../src/analysis/requests.js';
import { sessionStreams, type StreamView } from '../../src/analysis/streams.js';

/** A request the in-flight view lists: still waiting, or given up on by its client while the server may still answer. */
export interface InFlightRow {
  session: Session;
  facts: RequestFacts;
  stream: StreamView | null;
}

/** The time now, moving every `ms` while `on`: ages on screen grow without new data. */
export function useNow(on: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [on, ms]);
  return now;
}

/**
 * What a session's unanswered requests wait on. Reads the unanswered requests, the cancellations and
 * progress (small), the exchanges and the stream facts: never the whole session's payloads.
 */
export function inFlightOf(store: CaptureStore, session: Session): InFlightRow[] {
  // Payloads of the unanswered ones only (their progress tokens): a long session has many answered.
  const requests = store.messages(session.id, { kinds: ['request'], withoutPayload: true })
    .filter((m) => m.correlatedSeq == null).map((m) => store.message(session.id, m.seq) ?? m);
  if (!requests.length) return [];
  const notes: RpcMessage[] = [
    ...store.messages(session.id, { method: 'notifications/cancelled' }),
    ...store.messages(session.id, { method: 'notifications/progress' }),
  ];
  const messages = [...requests, ...notes].sort((a, b) => a.seq - b.seq);
  const exchanges = store.exchanges(session.id);
  const recorded: StreamFacts[] = store.streams(session.id);
  const facts = requestFacts(session, messages, exchanges, recorded);
  const streams = new Map(sessionStreams(session, messages, exchanges, recorded, facts).map((s) => [s.exchangeId, s]));
  return facts.filter((f) => f.request.kind === 'request').map((f) => ({ session, facts: f, stream: f.waitsOn ? streams.get(f.waitsOn) ?? null : null }));
}

/** The in-flight rows of these sessions (those not ended), re-read when the database changes. */
export function useInFlight(store: CaptureStore, sessions: Session[], version: number): InFlightRow[] {
  const key = sessions.map((s) => `${s.id}:${s.endedAt ?? ''}`).join(',');
  return useMemo(() => sessions.filter((s) => s.endedAt == null && s.transport !== 'model-api')
    .flatMap((s) => inFlightOf(store, s))
    .sort((a, b) => a.facts.request.ts - b.facts.request.ts), [store, key, version]);
}
