import type { Exchange, RpcMessage } from '../model/model.js';
import { UsageError } from '../errors.js';
import type { Recording } from './recording.js';

/**
 * The part of a recording that sends one client message again as its session did: the handshake
 * (initialize with the recorded protocol version and capabilities, its answer, notifications/initialized),
 * then that message, with `edited` in place of its payload when given, and its recorded answer (what
 * the replay waits for and the diff compares with). The legacy SSE stream the session ran on stays.
 */
export function resendPart(rec: Recording, seq: number, edited?: string): Recording {
  const m = rec.messages.find((x) => x.seq === seq);
  if (!m) throw new UsageError(`session ${rec.session.id} has no message #${seq} (it has ${rec.messages.length}; see mcptap show ${rec.session.id})`);
  if (m.direction !== 'client->server' || (m.kind !== 'request' && m.kind !== 'notification')) {
    const answer = m.correlatedSeq != null ? `; the request it answers is #${m.correlatedSeq}` : '';
    throw new UsageError(`#${seq} is a ${m.direction === 'client->server' ? 'client' : 'server'} ${m.kind}, not a request or notification the client sent${answer}`);
  }
  let payload = m.payload;
  if (edited != null) {
    let v: unknown;
    try {
      v = JSON.parse(edited);
    } catch (e) {
      throw new UsageError(`the edited message is not JSON: ${(e as Error).message.split('\n')[0]}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v) || typeof (v as { method?: unknown }).method !== 'string') {
      throw new UsageError('the edited message must be one JSON-RPC request or notification object, with a "method"');
    }
    payload = JSON.stringify(v);
  } else if (m.truncated) throw new UsageError(`#${seq} was stored cut at --max-body, so it cannot be sent as recorded; use --edit to give it whole`);

  const byMethod = (method: string, dir: RpcMessage['direction']) => rec.messages.find((x) => x.method === method && x.direction === dir && x.kind !== 'response' && x.kind !== 'error');
  const init = byMethod('initialize', 'client->server');
  const keep = new Map<number, RpcMessage>();
  const add = (x: RpcMessage | undefined) => x && keep.set(x.seq, x);
  if (init && init.seq !== seq) {
    add(init);
    add(rec.messages.find((x) => x.seq === init.correlatedSeq));
    add(byMethod('notifications/initialized', 'client->server'));
  }
  const own: RpcMessage = { ...m, payload, truncated: false, batchIndex: null };
  keep.set(seq, own);
  if (m.kind === 'request') add(rec.messages.find((x) => x.seq === m.correlatedSeq));
  const messages = [...keep.values()].sort((a, b) => a.seq - b.seq);

  const carried = new Set(messages.map((x) => x.exchangeId));
  const exchanges: Exchange[] = rec.exchanges
    .filter((e) => carried.has(e.id) || (rec.session.transport === 'sse' && e.method === 'GET'))
    .map((e) => (e.id === m.exchangeId && e.kind === 'http' ? { ...e, requestBody: payload, requestTruncated: false } : e));
  return { session: rec.session, messages, exchanges };
}
