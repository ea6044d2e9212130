import type { RpcMessage } from '../model/model.js';
import { payloadJson } from '../model/payload.js';

// A multi round-trip request (2026-07-28): the server answers `resultType: "input_required"` with what it needs
// (`inputRequests`, `requestState`), and the client sends the request again, with a new id, carrying
// `inputResponses` / `requestState`. People read that as one request that took several round trips.

export interface RoundTrip {
  /** The seq of the request that started the exchange. */
  first: number;
  /** 1 for the first request; n for the n-th retry's request and its answer. */
  round: number;
  /** Of the last round's answer: rounds in all and the time from the first request to it (ms). */
  rounds?: number;
  totalMs?: number;
}

const parse = payloadJson;

const isRetry = (params: any) => params != null && (params.inputResponses != null || params.requestState != null);

/**
 * The round trips of a session's multi round-trip requests, keyed by the seq of each request and answer
 * taking part (requests that took a single trip are not in it). A retry belongs to the latest unfinished
 * exchange of the same method and name: the revision carries no id linking them.
 */
export function roundTrips(messages: RpcMessage[]): Map<number, RoundTrip> {
  const bySeq = new Map(messages.map((m) => [m.seq, m]));
  const out = new Map<number, RoundTrip>();
  /** Unfinished exchanges (their last answer asked for input), by method and name. */
  const open = new Map<string, { first: RpcMessage; round: number }>();
  for (const m of messages) {
    if (m.kind !== 'request' || m.direction !== 'client->server') continue;
    const key = `${m.method}\u0000${m.subject ?? ''}`;
    const prev = open.get(key);
    const chain = prev && isRetry(parse(m)?.params) ? { first: prev.first, round: prev.round + 1 } : { first: m, round: 1 };
    const answer = m.correlatedSeq != null ? bySeq.get(m.correlatedSeq) : undefined;
    const more = answer?.kind === 'response' && parse(answer)?.result?.resultType === 'input_required';
    if (chain.round === 1 && !more) continue;
    out.set(m.seq, { first: chain.first.seq, round: chain.round });
    if (more) {
      open.set(key, chain);
      if (answer) out.set(answer.seq, { first: chain.first.seq, round: chain.round });
    } else {
      open.delete(key);
      if (answer) out.set(answer.seq, { first: chain.first.seq, round: chain.round, rounds: chain.round, totalMs: Math.max(0, answer.ts - chain.first.ts) });
    }
  }
  return out;
}
