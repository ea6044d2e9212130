import type { RpcMessage } from '../model/model.js';
import { parsePayload, type Recording } from './recording.js';

// Matching live requests to recorded ones, for mock (client requests) and replay (server requests):
// by method and normalised params, so ids, progress tokens, `_meta` and generated UUIDs do not matter.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Params without what differs between runs of the same call: `_meta` (progress tokens, identity), UUIDs, requestState. */
export function normalizeParams(v: unknown): unknown {
  if (typeof v === 'string') return UUID.test(v) ? '<uuid>' : v;
  if (Array.isArray(v)) return v.map(normalizeParams);
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  // requestState (2026-07-28 multi round-trip) is the server's opaque state for a retry: each run mints its own.
  for (const k of Object.keys(v).sort()) if (k !== '_meta' && k !== 'requestState') out[k] = normalizeParams((v as Record<string, unknown>)[k]);
  return out;
}

/** Method and normalised params as one string: equal keys mean the same call. */
export function callKey(method: string, params: unknown): string {
  return method + ' ' + JSON.stringify(normalizeParams(params ?? {}));
}

/** A message the server sent while a call was in progress, before its response. */
export interface Interim {
  message: RpcMessage;
  value: Record<string, unknown>;
  /** For a server→client request: when the client's answer came, so pacing resumes from there. */
  answeredAt: number | null;
}

/** One recorded request with everything the server sent for it. */
export interface RecordedCall {
  request: RpcMessage;
  method: string;
  params: unknown;
  key: string;
  interim: Interim[];
  /** The response or error; null when the server never answered. */
  response: { message: RpcMessage; value: Record<string, unknown> } | null;
}

/**
 * The recorded calls in one direction (`client->server` for mock, `server->client` for replay), each
 * with its response and, for client requests, the notifications and requests the server sent on the
 * way: on the same response stream for Streamable HTTP, else while the call was the latest one open.
 */
export function recordedCalls(rec: Recording, direction: RpcMessage['direction']): RecordedCall[] {
  const bySeq = new Map(rec.messages.map((m) => [m.seq, m]));
  const calls: RecordedCall[] = [];
  for (const m of rec.messages) {
    if (m.direction !== direction || m.kind !== 'request' || !m.method) continue;
    const value = parsePayload(m);
    if (!value) continue;
    const res = m.correlatedSeq != null ? bySeq.get(m.correlatedSeq) : undefined;
    const resValue = res ? parsePayload(res) : undefined;
    calls.push({
      request: m, method: m.method, params: value.params, key: callKey(m.method, value.params), interim: [],
      response: res && resValue ? { message: res, value: resValue } : null,
    });
  }
  if (direction === 'client->server') attachInterim(rec, calls, bySeq);
  return calls;
}

/** A message the server sent on its own (not for a call), and the client message it followed. */
export interface Unsolicited {
  /** Seq of the last client message before it; 0 when it came first. */
  afterSeq: number;
  /** How long after that client message it came. */
  delayMs: number;
  message: RpcMessage;
  value: Record<string, unknown>;
}

/**
 * Server→client notifications and requests that belong to no call (a `roots/list` request or a log
 * message on the standalone stream), each anchored to the client message it followed, so a mock can
 * send it at the same point of a live session.
 */
export function unsolicitedMessages(rec: Recording, calls: RecordedCall[]): Unsolicited[] {
  const interim = new Set(calls.flatMap((c) => c.interim.map((i) => i.message.seq)));
  const out: Unsolicited[] = [];
  let anchor: RpcMessage | null = null;
  for (const m of rec.messages) {
    if (m.direction === 'client->server') {
      anchor = m;
      continue;
    }
    if ((m.kind !== 'notification' && m.kind !== 'request') || interim.has(m.seq)) continue;
    const value = parsePayload(m);
    if (!value) continue;
    out.push({ afterSeq: anchor?.seq ?? 0, delayMs: anchor ? Math.max(0, m.ts - anchor.ts) : 0, message: m, value });
  }
  return out;
}

function attachInterim(rec: Recording, calls: RecordedCall[], bySeq: Map<number, RpcMessage>): void {
  const open = calls.filter((c) => c.response);
  const unanswered = calls.filter((c) => !c.response);
  for (const m of rec.messages) {
    if (m.direction !== 'server->client' || (m.kind !== 'notification' && m.kind !== 'request')) continue;
    const value = parsePayload(m);
    if (!value) continue;
    const during = open.filter((c) => c.request.seq < m.seq && c.response!.message.seq > m.seq);
    let owner: RecordedCall | undefined;
    // On a response stream: its call's; a subscription (2026-07-28 subscriptions/listen) has no response, its
    // stream is the exchange of its request.
    if (m.channel === 'response-sse') owner = during.find((c) => c.response!.message.exchangeId === m.exchangeId) ?? unanswered.find((c) => c.request.exchangeId === m.exchangeId && c.request.seq < m.seq);
    else if (m.method === 'notifications/progress') {
      const token = (value.params as Record<string, unknown> | undefined)?.progressToken;
      owner = during.find((c) => progressToken(c.params) === token);
    } else owner = during[during.length - 1];
    if (!owner) continue;
    const answer = m.kind === 'request' && m.correlatedSeq != null ? bySeq.get(m.correlatedSeq) : undefined;
    owner.interim.push({ message: m, value, answeredAt: answer?.ts ?? null });
  }
}

export function progressToken(params: unknown): unknown {
  const meta = (params as { _meta?: { progressToken?: unknown } } | undefined)?._meta;
  return meta?.progressToken;
}

/**
 * Hands out recorded calls for live requests: the first unused match, then (once all matches are used)
 * the first match again. One matcher per live session.
 */
export class CallMatcher {
  private readonly byKey = new Map<string, RecordedCall[]>();
  private readonly used = new Set<RecordedCall>();

  constructor(readonly calls: RecordedCall[]) {
    for (const c of calls) {
      const list = this.byKey.get(c.key);
      if (list) list.push(c);
      else this.byKey.set(c.key, [c]);
    }
  }

  match(method: string, params: unknown): RecordedCall | null {
    const list = this.byKey.get(callKey(method, params));
    if (!list) return null;
    const call = list.find((c) => !this.used.has(c)) ?? list[0];
    this.used.add(call);
    return call;
  }

  /** The recorded call most like this one: same method and fewest differing params, else the nearest method name. */
  closest(method: string, params: unknown): { call: RecordedCall; differs: string[] } | null {
    let best: { call: RecordedCall; score: number; differs: string[] } | null = null;
    const mine = leaves(normalizeParams(params ?? {}));
    for (const c of this.calls) {
      const theirs = leaves(normalizeParams(c.params ?? {}));
      const differs = [...new Set([...mine.keys(), ...theirs.keys()])].filter((p) => mine.get(p) !== theirs.get(p));
      const score = (c.method === method ? 0 : 1000 + editDistance(c.method, method)) + differs.length;
      if (!best || score < best.score) best = { call: c, score, differs };
    }
    return best && { call: best.call, differs: best.differs };
  }
}

/** JSON paths of the leaves of a value, each with its JSON text. */
function leaves(v: unknown, path = '', out = new Map<string, string>()): Map<string, string> {
  if (v && typeof v === 'object' && Object.keys(v).length > 0) {
    for (const [k, child] of Object.entries(v)) leaves(child, path ? `${path}.${k}` : k, out);
  } else out.set(path || '$', JSON.stringify(v));
  return out;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** A request shown in one line for error messages: `#7 tools/call {"name":"echo",…}`. */
export function describeCall(method: string, params: unknown, seq?: number): string {
  const p = JSON.stringify(normalizeParams(params ?? {}));
  return `${seq != null ? `#${seq} ` : ''}${method} ${p.length > 160 ? p.slice(0, 159) + '…' : p}`;
}
