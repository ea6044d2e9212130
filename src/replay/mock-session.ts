import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel, RpcId, RpcMessage } from '../model/model.js';
import { CallMatcher, callKey, describeCall, progressToken, recordedCalls, unsolicitedMessages, type RecordedCall, type Unsolicited } from './match.js';
import { parsePayload, type Recording } from './recording.js';
import { LISTEN, META } from '../wire/mcp-2026.js';

export type JsonObject = Record<string, unknown>;
/** Writes one message to the client on whatever carries it (SSE stream, JSON body, frame). */
export type Emit = (message: JsonObject) => void;

/** What a mock serves, worked out once from the recording. */
export interface MockScript {
  calls: RecordedCall[];
  /** Messages the server sent on its own, by the seq of the client message they followed. */
  unsolicited: Map<number, Unsolicited[]>;
  /** The client's notifications, by method and normalised params. */
  notifications: Map<string, RpcMessage[]>;
  /** HTTP status of each recorded exchange, so a refused request is refused again. */
  statusByExchange: Map<string, number>;
}

export function mockScript(rec: Recording): MockScript {
  const calls = recordedCalls(rec, 'client->server');
  const unsolicited = new Map<number, Unsolicited[]>();
  for (const u of unsolicitedMessages(rec, calls)) {
    const list = unsolicited.get(u.afterSeq);
    if (list) list.push(u);
    else unsolicited.set(u.afterSeq, [u]);
  }
  const notifications = new Map<string, RpcMessage[]>();
  for (const m of rec.messages) {
    if (m.direction !== 'client->server' || m.kind !== 'notification' || !m.method) continue;
    const key = callKey(m.method, parsePayload(m)?.params);
    notifications.set(key, [...(notifications.get(key) ?? []), m]);
  }
  const statusByExchange = new Map<string, number>();
  for (const e of rec.exchanges) if (e.status != null) statusByExchange.set(e.id, e.status);
  return { calls, unsolicited, notifications, statusByExchange };
}

/** What the mock will send for one client request. */
export interface Plan {
  id: RpcId | null;
  /** The client's progress token, which replayed progress notifications must carry. */
  progressToken: unknown;
  call: RecordedCall | null;
  /** A reply made up here (ping, an unmatched request, a malformed message). */
  reply: JsonObject | null;
  /** How the recorded response travelled, so the answer goes the same way (SSE or a JSON body). */
  channel: Channel | null;
  /** The recorded HTTP status of the exchange that carried the response. */
  status: number | null;
}

// A server→client request (sampling, elicitation) waits this long for the client's answer.
const ANSWER_TIMEOUT_MS = 30_000;

const enc = (id: unknown) => (typeof id === 'string' ? 's:' + id : 'n:' + String(id));
const isObj = (v: unknown): v is JsonObject => !!v && typeof v === 'object' && !Array.isArray(v);

/** A notification of a subscription carries its listen request's id (`_meta`): the live client's, not the recorded one's. */
function subscribed(v: JsonObject, id: RpcId | null): JsonObject {
  const p = v.params as JsonObject | undefined;
  const meta = p?._meta as JsonObject | undefined;
  if (!meta || !(META.subscriptionId in meta) || id == null) return v;
  return { ...v, params: { ...p, _meta: { ...meta, [META.subscriptionId]: id } } };
}

/**
 * One client's MCP session with the mock: matches its messages to recorded ones and plays the
 * recorded answers back, with the client's ids and progress tokens, and sends what the server sent
 * on its own at the same points of the session.
 */
export class MockSession {
  readonly id = randomUUID();
  private readonly matcher: CallMatcher;
  private readonly usedNotes = new Set<RpcMessage>();
  /** Server→client requests sent and not yet answered: what to run when the answer comes. */
  private readonly answers = new Map<string, () => void>();
  private readonly abort = new AbortController();
  private sink: Emit | null = null;
  private held: JsonObject[] = [];

  constructor(private readonly script: MockScript, private readonly speed: number) {
    this.matcher = new CallMatcher(script.calls);
    this.reached(0);
  }

  /**
   * Where messages that answer no request go: the standalone GET stream, the legacy stream, the
   * socket. Held until there is one.
   */
  attach(sink: Emit | null): void {
    this.sink = sink;
    if (!sink) return;
    const held = this.held;
    this.held = [];
    for (const m of held) sink(m);
  }

  /** Sends on the session's own channel (see attach). */
  push(m: JsonObject): void {
    if (this.sink) this.sink(m);
    else this.held.push(m);
  }

  /** Decides the answer to one incoming message; null when it needs none (notifications, the client's answers). */
  receive(msg: unknown): Plan | null {
    if (!isObj(msg) || msg.jsonrpc !== '2.0') {
      return this.error(null, -32600, 'Invalid Request: expected a JSON-RPC 2.0 message');
    }
    if (typeof msg.method !== 'string') {
      if ('id' in msg) this.answers.get(enc(msg.id))?.();
      return null;
    }
    if (!('id' in msg)) {
      const list = this.script.notifications.get(callKey(msg.method, msg.params));
      const note = list?.find((n) => !this.usedNotes.has(n));
      if (note) {
        this.usedNotes.add(note);
        this.reached(note.seq);
      }
      return null;
    }
    const id = msg.id as RpcId;
    const method = msg.method;
    const call = this.matcher.match(method, msg.params) ??
      // Another client's initialize (other name, version or capabilities) still opens the recorded session.
      (method === 'initialize' ? this.matcher.calls.find((c) => c.method === 'initialize') ?? null : null);
    if (call) {
      this.reached(call.request.seq);
      const res = call.response?.message;
      const status = res?.exchangeId ? this.script.statusByExchange.get(res.exchangeId) ?? null : null;
      return { id, progressToken: progressToken(msg.params), call, reply: null, channel: res?.channel ?? null, status };
    }
    if (method === 'ping') return { id, progressToken: undefined, call: null, reply: { jsonrpc: '2.0', id, result: {} }, channel: null, status: null };
    const near = this.matcher.closest(method, msg.params);
    const same = near?.call.method === method;
    const what = `no recorded ${method} request matches ${describeCall(method, msg.params).slice(method.length + 1)}`;
    const hint = near
      ? `; closest recorded request: ${describeCall(near.call.method, near.call.params, near.call.request.seq)}${same && near.differs.length ? ` (differs at ${near.differs.slice(0, 3).join(', ')})` : ''}`
      : '; the recording has no client requests';
    return this.error(id, same ? -32602 : -32601, `mcptap mock: ${what}${hint}`, near ? {
      closest: { seq: near.call.request.seq, method: near.call.method, params: near.call.params },
    } : undefined);
  }

  private error(id: RpcId | null, code: number, message: string, data?: JsonObject): Plan {
    return { id, progressToken: undefined, call: null, channel: null, status: null, reply: { jsonrpc: '2.0', id, error: { code, message, ...(data ? { data } : {}) } } };
  }

  /** The live session got as far as recorded client message `seq`: schedule what the server sent after it. */
  private reached(seq: number): void {
    for (const u of this.script.unsolicited.get(seq) ?? []) {
      void this.wait(u.delayMs).then(() => {
        if (this.abort.signal.aborted) return;
        if ('id' in u.value) this.expectAnswer(u.message, u.value.id);
        this.push(u.value);
      });
    }
  }

  /** Registers a server→client request the mock sends; resolves when the client answers it. */
  private expectAnswer(request: RpcMessage, id: unknown): Promise<void> {
    return new Promise<void>((resolve) => {
      this.answers.set(enc(id), () => {
        this.answers.delete(enc(id));
        if (request.correlatedSeq != null) this.reached(request.correlatedSeq);
        resolve();
      });
    });
  }

  /**
   * Sends what the server sent for the call: interim notifications and requests in order, keeping
   * their recorded spacing (divided by the speed), then the response under the client's id.
   */
  async play(plan: Plan, emit: Emit, until?: AbortSignal): Promise<void> {
    if (plan.reply) return emit(plan.reply);
    const call = plan.call!;
    const paced = call.interim.length > 0;
    let cursor = call.request.ts;
    for (const step of call.interim) {
      if (paced) await this.wait(step.message.ts - cursor);
      cursor = step.message.ts;
      const v = step.value;
      if (v.method === 'notifications/progress') {
        // Progress belongs to the client's token; a client that asked for none gets none.
        if (plan.progressToken === undefined) continue;
        emit({ ...v, params: { ...(v.params as JsonObject), progressToken: plan.progressToken } });
      } else if ('id' in v) {
        const answered = new AbortController();
        void this.expectAnswer(step.message, v.id).then(() => answered.abort());
        emit(v);
        await sleep(ANSWER_TIMEOUT_MS, undefined, { signal: AbortSignal.any([answered.signal, this.abort.signal]) }).catch(() => {});
        if (step.answeredAt != null) cursor = Math.max(cursor, step.answeredAt);
      } else emit(subscribed(v, plan.id));
      if (this.abort.signal.aborted) return;
    }
    const res = call.response;
    if (!res && call.method === LISTEN) {
      // A subscription (2026-07-28) has no answer while it lasts: its stream stays open until the client closes it.
      const stop = AbortSignal.any([this.abort.signal, ...(until ? [until] : [])]);
      if (!stop.aborted) await new Promise((r) => stop.addEventListener('abort', r, { once: true }));
      return;
    }
    if (paced && res) await this.wait(res.message.ts - cursor);
    if (this.abort.signal.aborted) return;
    if (res) emit({ ...res.value, id: plan.id });
    else emit({ jsonrpc: '2.0', id: plan.id, error: { code: -32603, message: `mcptap mock: the recorded server never answered ${describeCall(call.method, call.params, call.request.seq)}` } });
  }

  private async wait(ms: number): Promise<void> {
    if (ms <= 0 || this.abort.signal.aborted) return;
    await sleep(ms / this.speed, undefined, { signal: this.abort.signal }).catch(() => {});
  }

  /** Stops any answers still being played (the client went away, or the mock is closing). */
  close(): void {
    this.abort.abort();
    this.sink = null;
    this.held = [];
  }
}
