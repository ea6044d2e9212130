import { useMemo } from 'react';
import type { CaptureStore, TimelineRow } from '../../src/store/read.js';
import type { RpcMessage, Session } from '../../src/model/model.js';
import { requestFacts } from '../../src/analysis/requests.js';

/** How the timeline marks a request (and a late answer): still waiting, given up on by its client, answered too late, never answered in a session that ended. */
export type RequestMark = 'waiting' | 'abandoned' | 'late' | 'no answer';

/**
 * Marks for the rows on screen. Reads only what they need: the partners of the visible requests and
 * answers, the session's cancellations, its exchanges and stream facts.
 */
export function useRequestMarks(store: CaptureStore, session: Session, rows: TimelineRow[], version: number): Map<number, RequestMark> {
  return useMemo(() => {
    const marks = new Map<number, RequestMark>();
    const answers = rows.filter((r) => (r.kind === 'response' || r.kind === 'error') && r.correlatedSeq != null);
    const requests = rows.filter((r) => r.kind === 'request');
    if (!answers.length && !requests.length) return marks;
    const partners = [...answers.map((a) => a.correlatedSeq!), ...requests.filter((r) => r.correlatedSeq != null).map((r) => r.correlatedSeq!)];
    const bySeq = new Map<number, RpcMessage>();
    for (const m of [...rows, ...(partners.length ? store.timeline(session.id, { seqs: partners }) : []), ...store.messages(session.id, { method: 'notifications/cancelled' })]) bySeq.set(m.seq, m);
    const messages = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    for (const f of requestFacts(session, messages, store.exchanges(session.id), store.streams(session.id))) {
      if (f.late) {
        marks.set(f.request.seq, 'late');
        marks.set(f.answer!.seq, 'late');
      } else if (!f.answer) marks.set(f.request.seq, f.gaveUpAt != null ? 'abandoned' : session.endedAt != null ? 'no answer' : 'waiting');
    }
    return marks;
  }, [store, session.id, rows, version]);
}
