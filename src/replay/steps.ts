import type { Exchange, RpcId, RpcMessage, Transport } from '../model/model.js';
import { header, mediaType } from '../model/headers.js';
import type { Recording } from './recording.js';

/** A request the replay sends as recorded. */
export interface SentRequest {
  id: RpcId;
  method: string;
}

interface StepBase {
  /**
   * Where the step sits among the recorded messages (its first message's seq; for a step without
   * messages, just after the last message recorded before it). Before a step the replay waits for what
   * the recorded server had sent before this position.
   */
  pos: number;
  /** When the recorded client did it. */
  ts: number;
}

/** One thing the recorded client did. */
export type Step = StepBase & (
  /** A POST body, a legacy POST or a WebSocket frame, sent as recorded (ids and all). */
  | { kind: 'send'; text: string; requests: SentRequest[]; methods: string[]; exchange: Exchange | null }
  /**
   * The client's answer to a server request (roots/list, sampling). Sent when the live server has asked,
   * under the live request's id, with the recorded answer to the matching recorded request.
   */
  | { kind: 'answer'; method: string; exchange: Exchange | null }
  /** The standalone GET stream of Streamable HTTP. */
  | { kind: 'stream'; exchange: Exchange }
  /** DELETE: the client ended the session. */
  | { kind: 'delete'; exchange: Exchange }
);

export interface Script {
  /** In recorded order. */
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
 * over.
 */
export function buildScript(rec: Recording, transport: Transport): Script {
  const skipped: string[] = [];
  const same = rec.session.transport === transport;
  let steps: Step[];
  let connection: Exchange | null = null;
  if (same && transport === 'streamable-http') steps = httpSteps(rec, skipped);
  else if (same && transport === 'sse') {
    connection = rec.exchanges.find((e) => e.method === 'GET' && mediaType(header(e.responseHeaders, 'content-type')) === 'text/event-stream') ?? null;
    steps = httpSteps(rec, skipped).filter((s) => s.kind !== 'stream' && s.kind !== 'delete');
  } else {
    connection = same ? rec.exchanges.find((e) => e.kind === 'websocket') ?? null : null;
    steps = messageSteps(rec, skipped, connection);
  }
  return { steps: steps.sort((a, b) => a.pos - b.pos), connection, skipped };
}

/** Just after the last message recorded at or before `ts`: where a step that carried no message goes. */
function posAt(rec: Recording, ts: number): number {
  let pos = 0;
  for (const m of rec.messages) if (m.ts <= ts) pos = Math.max(pos, m.seq);
  return pos + 0.5;
}

function httpSteps(rec: Recording, skipped: string[]): Step[] {
  const byExchange = new Map<string, RpcMessage[]>();
  for (const m of rec.messages) {
    if (m.direction !== 'client->server' || !m.exchangeId) continue;
    byExchange.set(m.exchangeId, [...(byExchange.get(m.exchangeId) ?? []), m]);
  }
  const steps: Step[] = [];
  for (const ex of rec.exchanges) {
    if (ex.kind !== 'http') continue;
    if (ex.method === 'GET' || ex.method === 'DELETE') {
      steps.push({ kind: ex.method === 'GET' ? 'stream' : 'delete', pos: posAt(rec, ex.startedAt), ts: ex.startedAt, exchange: ex });
      continue;
    }
    if (ex.method !== 'POST') continue;
    const msgs = byExchange.get(ex.id) ?? [];
    if (msgs.length > 0 && msgs.every(isAnswer)) {
      for (const m of msgs) if (m.method) steps.push(answerStep(m, ex));
      continue;
    }
    let text = ex.requestBody;
    if (text == null || ex.requestTruncated) {
      if (!msgs.length || msgs.some((m) => m.truncated)) {
        skipped.push(`POST ${ex.url} at ${new Date(ex.startedAt).toISOString()}: its body was not stored whole`);
        continue;
      }
      text = joinMessages(msgs);
    }
    steps.push(sendStep(msgs.length ? msgs[0].seq : posAt(rec, ex.startedAt), ex.startedAt, text, msgs, ex));
  }
  return steps;
}

/** One step per WebSocket frame (or per message, on another transport); batch members go back together. */
function messageSteps(rec: Recording, skipped: string[], connection: Exchange | null): Step[] {
  const steps: Step[] = [];
  let batch: RpcMessage[] = [];
  const flush = () => {
    if (!batch.length) return;
    const parts = batch;
    batch = [];
    if (parts.every(isAnswer)) {
      // An answer whose request was never seen has nothing to answer in a new session.
      for (const m of parts) if (m.method) steps.push(answerStep(m, null));
      return;
    }
    if (parts.some((m) => m.truncated)) {
      skipped.push(`message #${parts[0].seq} (${parts[0].method ?? parts[0].kind}): not stored whole`);
      return;
    }
    steps.push(sendStep(parts[0].seq, parts[0].ts, joinMessages(parts), parts, connection));
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

function sendStep(pos: number, ts: number, text: string, msgs: RpcMessage[], exchange: Exchange | null): Step {
  const requests = msgs.filter((m) => m.kind === 'request' && m.rpcId != null && m.method).map((m) => ({ id: m.rpcId!, method: m.method! }));
  return { kind: 'send', pos, ts, text, requests, methods: msgs.map((m) => m.method ?? m.kind), exchange };
}

function answerStep(m: RpcMessage, exchange: Exchange | null): Step {
  return { kind: 'answer', pos: m.seq, ts: m.ts, method: m.method!, exchange };
}
