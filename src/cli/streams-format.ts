import type { RpcMessage } from '../model/model.js';
import type { RequestFacts } from '../analysis/requests.js';
import type { StreamView } from '../analysis/streams.js';
import { bytes, clockTime, duration } from './format.js';

// `mcptap show SESSION --streams`: each stream with its facts, and the requests that hung on it.

const what = (m: RpcMessage | undefined) => (m ? `#${m.seq} ${m.method ?? '?'}${m.subject ? ' ' + m.subject : ''}` : '?');

const END_WORDS = { 'client-closed': 'closed by the client', 'server-ended': 'ended by the server', reset: 'reset', 'proxy-stopped': 'proxy shut down', 'idle-timeout': 'idle timeout' } as const;

export function streamLines(streams: StreamView[], requests: RequestFacts[], bySeq: Map<number, RpcMessage>, now: number): string[] {
  if (!streams.length) return ['no streams (no event-stream response, WebSocket or stdio child in this session)'];
  const out: string[] = [];
  for (const s of streams) {
    const closed = s.closedAt;
    const life = `${clockTime(s.openedAt)} → ${closed == null ? 'open' : clockTime(closed)} (${duration((closed ?? now) - s.openedAt)})`;
    out.push(`${s.exchangeId}  ${s.kind}  ${s.exchange.method} ${s.exchange.url.split('?')[0]}  ${life}  ${s.end == null ? 'open' : END_WORDS[s.end]}${s.closedBy ? ` (first to close: ${s.closedBy})` : ''}`);
    const last = s.lastActivityAt ?? s.firstByteAt;
    const facts = [
      `first byte ${s.firstByteAt == null ? 'never' : '+' + duration(s.firstByteAt - s.openedAt)}`,
      `last event ${s.lastEventAt == null ? 'none' : clockTime(s.lastEventAt)}`,
      `last byte ${last == null ? 'none' : `${clockTime(last)}${closed == null ? ` (${duration(now - last)} ago)` : ''}`}`,
      `${s.events} event${s.events === 1 ? '' : 's'}, ${s.keepAlives} keep-alive${s.keepAlives === 1 ? '' : 's'}, ${bytes(s.bytes)}`,
      // An open stream's silence runs on until now.
      `longest silence ${duration(closed == null ? Math.max(s.longestSilenceMs, now - (last ?? s.openedAt)) : s.longestSilenceMs)}`,
    ];
    out.push(`    ${facts.join(' · ')}`);
    if (s.resumedFrom) out.push(`    resumes Last-Event-ID ${s.resumedFrom}`);
    if (s.inFlightAtClose.length) out.push(`    in flight at close: ${s.inFlightAtClose.map((q) => what(bySeq.get(q))).join(', ')}`);
    const waiting = closed == null ? requests.filter((r) => r.waitsOn === s.exchangeId && !r.answer && r.gaveUpAt == null) : [];
    if (waiting.length) out.push(`    waiting now: ${waiting.map((r) => `${what(r.request)} for ${duration(now - r.request.ts)}`).join(', ')}`);
  }
  const hung = requests.filter((r) => r.gaveUpAt != null || r.late);
  if (hung.length) {
    out.push('', 'requests the client gave up on');
    for (const r of hung) {
      const age = r.gaveUpAt! - r.request.ts;
      const answer = r.answer ? `answered after ${duration(r.answer.ts - r.request.ts)}${r.late ? (r.unseen ? ' (late, never seen: its stream had closed)' : ' (late, thrown away)') : ''}` : 'never answered';
      out.push(`  ${what(r.request)}  ${r.gaveUpHow === 'cancelled' ? 'cancelled' : 'stream closed'} after ${duration(age)}  ${answer}${r.progress.length ? `  ${r.progress.length} progress` : ''}`);
    }
  }
  return out;
}

export function streamsJson(streams: StreamView[]): unknown[] {
  return streams.map(({ exchange, ...s }) => ({ ...s, method: exchange.method, url: exchange.url }));
}

export function requestsJson(requests: RequestFacts[]): unknown[] {
  return requests.map((r) => ({
    seq: r.request.seq, direction: r.request.direction, method: r.request.method, subject: r.request.subject, waitsOn: r.waitsOn,
    answerSeq: r.answer?.seq ?? null, answeredAfterMs: r.answer ? r.answer.ts - r.request.ts : null,
    gaveUpAfterMs: r.gaveUpAt == null ? null : r.gaveUpAt - r.request.ts, gaveUpHow: r.gaveUpHow, cancelSeq: r.cancel?.seq ?? null,
    late: r.late, unseen: r.unseen, progress: r.progress.length,
  }));
}
