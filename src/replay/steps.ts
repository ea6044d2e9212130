import type { Exchange, RpcId, RpcMessage, Transport } from '../capture/model.js';
import { header, mediaType } from '../capture/headers.js';
import type { Recording } from './recording.js';

/** A request the replay sends, and when the recorded server answered it. */
export interface SentRequest {
  id: RpcId;
  method: string;
  /** When the recorded response arrived; null when the server never answered. */
  answeredAt: number | null;
}

/** One thing the recorded client did, in order. */
export type Step =
  /** A POST body, a legacy POST or a WebSocket frame, sent as recorded (ids and all). */
  | { kind: 'send'; ts: number; text: string; requests: SentRequest[]; methods: string[]; exchange: Exchange | null }
  /** The standalone GET stream of Streamable HTTP. */
  | { kind: 'stream'; ts: number; exchange: Exchange }
  /** DELETE: the client ended the session. */
  | { kind: 'delete'; ts: number; exchange: Exchange };

export interface Script {
  steps: Step[];
  /** The exchange that opened the legacy stream or the WebSocket, when replaying on the recorded transport. */
  connection: Exchange | null;
  /** Recorded client messages that could not be sent as recorded (cut by --max-body). */
  skipped: string[];
}

const isAnswer = (m: RpcMessage) => m.kind === 'response' || m.kind === 'error';

/**
 * The client side of a recording as steps. On the recorded transport each HTTP exchange (or WebSocket
 * frame) becomes a step with its own body and headers; on another transport only the messages carry
 * over. The client's answers to server requests are left out: the replay sends them when the live
 * server asks.
 */
export function buildScript(rec: Recording, transport: Transport): Script {
  const skipped: string[] = [];
  const bySeq = new Map(rec.messages.map((m) => [m.seq, m]));
  const same = rec.session.transport === transport;
  if (same && transport === 'streamable-http') return { steps: httpSteps(rec, skipped, bySeq), connection: null, skipped };
  if (same && transport === 'sse') {
    const connection = rec.exchanges.find((e) => e.method === 'GET' && mediaType(header(e.responseHeaders, 'content-type')) === 'text/event-stream') ?? null;
    const steps = httpSteps(rec, skipped, bySeq).filter((s) => s.kind === 'send');
    return { steps, connection, skipped };
  }
  const connection = same ? rec.exchanges.find((e) => e.kind === 'websocket') ?? null : null;
  return { steps: messageSteps(rec, skipped, bySeq, same ? connection : null), connection, skipped };
}

function httpSteps(rec: Recording, skipped: string[], bySeq: Map<number, RpcMessage>): Step[] {
  const byExchange = new Map<string, RpcMessage[]>();
  for (const m of rec.messages) {
    if (m.direction !== 'client->server' || !m.exchangeId) continue;
    byExchange.set(m.exchangeId, [...(byExchange.get(m.exchangeId) ?? []), m]);
  }
  const steps: Step[] = [];
  for (const ex of rec.exchanges) {
    if (ex.kind !== 'http') continue;
    if (ex.method === 'GET') {
      steps.push({ kind: 'stream', ts: ex.startedAt, exchange: ex });
      continue;
    }
    if (ex.method === 'DELETE') {
      steps.push({ kind: 'delete', ts: ex.startedAt, exchange: ex });
      continue;
    }
    if (ex.method !== 'POST') continue;
    const msgs = byExchange.get(ex.id) ?? [];
    if (msgs.length > 0 && msgs.every(isAnswer)) continue;
    let text = ex.requestBody;
    if (text == null || ex.requestTruncated) {
      if (!msgs.length || msgs.some((m) => m.truncated)) {
        skipped.push(`POST ${ex.url} at ${new Date(ex.startedAt).toISOString()}: its body was not stored whole`);
        continue;
      }
      text = joinMessages(msgs);
    }
    steps.push(sendStep(ex.startedAt, text, msgs, bySeq, ex));
  }
  return steps;
}

/** One step per WebSocket frame (or per message, on another transport); batch members go back together. */
function messageSteps(rec: Recording, skipped: string[], bySeq: Map<number, RpcMessage>, connection: Exchange | null): Step[] {
  const steps: Step[] = [];
  let batch: RpcMessage[] = [];
  const flush = () => {
    if (!batch.length) return;
    const parts = batch;
    batch = [];
    if (parts.every(isAnswer)) return;
    if (parts.some((m) => m.truncated)) {
      skipped.push(`message #${parts[0].seq} (${parts[0].method ?? parts[0].kind}): not stored whole`);
      return;
    }
    steps.push(sendStep(parts[0].ts, joinMessages(parts), parts, bySeq, connection));
  };
  for (const m of rec.messages) {
    if (m.direction !== 'client->server') continue;
    const sameFrame = batch.length > 0 && m.batchIndex != null && m.batchIndex > 0 && m.ts === batch[0].ts && m.exchangeId === batch[0].exchangeId;
    if (!sameFrame) flush();
    batch.push(m);
  }
  flush();
  return steps;
}

function joinMessages(msgs: RpcMessage[]): string {
  return msgs.length === 1 && msgs[0].batchIndex == null ? msgs[0].payload : `[${msgs.map((m) => m.payload).join(',')}]`;
}

function sendStep(ts: number, text: string, msgs: RpcMessage[], bySeq: Map<number, RpcMessage>, exchange: Exchange | null): Step {
  const requests: SentRequest[] = msgs
    .filter((m) => m.kind === 'request' && m.rpcId != null && m.method)
    .map((m) => ({ id: m.rpcId!, method: m.method!, answeredAt: m.correlatedSeq == null ? null : bySeq.get(m.correlatedSeq)?.ts ?? null }));
  return { kind: 'send', ts, text, requests, methods: msgs.map((m) => m.method ?? m.kind), exchange };
}
