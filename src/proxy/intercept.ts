import { EventEmitter } from 'node:events';
import type http from 'node:http';
import type { Direction, Failure, HeaderList, Rewrite } from '../model/model.js';
import { UsageError } from '../errors.js';
import { matches, parseFilter, type FilterTerm } from '../analysis/filter.js';
import { decodeJsonRpcText, type DecodedMessage } from '../wire/jsonrpc.js';
import { legacySessionIdOf } from '../wire/legacy-endpoint.js';

// mitmproxy's intercept for MCP: a client message that matches a filter (the timeline's filter language)
// is held instead of forwarded, until someone forwards it (edited or not), answers it in the server's
// place, or drops it. What is held is a whole HTTP request body (a Streamable HTTP or legacy SSE POST),
// an event, a WebSocket message, or (dir:s2c) a JSON answer; one that matches nothing goes on as it came.
// An answer given by hand goes where the server's would: the POST's own answer (Streamable HTTP), the
// session's event stream (legacy SSE: sse-intercept.ts), the server's frames (ws-intercept.ts).

/** What is decided for a held message. */
export type Verdict =
  | { kind: 'forward'; body: string; edited: boolean }
  | { kind: 'answer'; body: string }
  | { kind: 'drop' };

export interface HeldMessage {
  id: number;
  /** When it was held (epoch ms). */
  heldAt: number;
  method: string | null;
  subject: string | null;
  rpcId: string | number | null;
  /** The request body as the client sent it. */
  body: string;
  /** The route (server) it was going to; '' behind a single --target. */
  route: string;
  /** Why it cannot be answered by hand (its answer would go on a stream the intercept does not write to), or null. */
  noAnswer: string | null;
  /** Who sent it: a client message, or (with dir:s2c) a server's. */
  direction: Direction;
  /** What carries it: a POST body, an event on a stream, a JSON answer, a WebSocket message. */
  via: HeldVia;
}

export type HeldVia = 'post' | 'event' | 'json-answer' | 'websocket';

/** What dropping a held message does, for the person who drops it. */
export function dropEffect(h: Pick<HeldMessage, 'via' | 'direction'>): string {
  if (h.via === 'post') return 'the client got an HTTP 502';
  if (h.via === 'json-answer') return 'the client got an HTTP 502 instead of the answer';
  return h.direction === 'client->server' ? 'the server never saw it' : 'the client never got it';
}

export interface InterceptorEvents {
  /** The held list changed (a message held, or one decided). */
  change: [];
}

/**
 * What the held screen drives: the interceptor itself (`proxy --ui`), or a client of a running proxy's hold
 * channel (`mcptap tui` beside `mcptap proxy --hold`, hold-channel.ts). A refused decision throws (or
 * rejects) with the reason; the message stays held.
 */
export interface HoldControl {
  readonly filter: string;
  held(): HeldMessage[];
  on(event: 'change', listener: () => void): unknown;
  off(event: 'change', listener: () => void): unknown;
  forward(id: number, edited?: string): void | Promise<void>;
  answer(id: number, answer: string): void | Promise<void>;
  drop(id: number): void | Promise<void>;
}

/** Whether a decoded message is one the filter holds. */
function holds(m: DecodedMessage, direction: Direction, terms: FilterTerm[]): boolean {
  return matches({ method: m.method, subject: m.subject, direction, kind: m.kind, isError: m.isError, latencyMs: null, rpcId: m.rpcId, errorCode: m.errorCode }, terms);
}

/** Client requests remembered for naming the answers to them (an answer carries only the id). */
const REMEMBERED_REQUESTS = 10_000;

export class Interceptor extends EventEmitter<InterceptorEvents> implements HoldControl {
  private readonly terms: FilterTerm[];
  private readonly waiting = new Map<number, { held: HeldMessage; decide: (v: Verdict) => void }>();
  private readonly requests = new Map<string, { method: string | null; subject: string | null }>();
  /** Legacy SSE streams open through the proxy, by session id: where a held POST's answer goes. */
  private readonly legacyStreams = new Map<string, (text: string) => boolean>();
  private nextId = 1;
  /** `dir:s2c`: the filter holds server messages (answers, server requests and notifications), not the client's. */
  readonly serverSide: boolean;
  /**
   * Whether matching messages are held now. Off while no one can decide them: a headless `proxy --hold`
   * holds only while a TUI is attached to its hold channel; what matches meanwhile goes on as it came.
   */
  holding = true;

  constructor(readonly filter: string) {
    super();
    const parsed = parseFilter(filter);
    if (parsed.errors.length) throw new UsageError(`--hold: ${parsed.errors[0]}`);
    this.terms = parsed.terms;
    this.serverSide = parsed.terms.some((t) => t.field === 'dir' && !t.negate && t.value !== 'c2s');
  }

  /** The message of a client body that matches, or null when the body goes on untouched. */
  matching(body: string): DecodedMessage | null {
    if (!body.trimStart().startsWith('{') && !body.trimStart().startsWith('[')) return null;
    const all = decodeJsonRpcText(body);
    if (this.serverSide) {
      for (const m of all) if (m.kind === 'request' && m.rpcId != null) this.remember(m);
      return null;
    }
    if (!this.holding) return null;
    return all.find((m) => (m.kind === 'request' || m.kind === 'notification') && holds(m, 'client->server', this.terms)) ?? null;
  }

  /** The message of a server event or frame that matches (an answer named after its request), or null. */
  matchingServer(text: string): DecodedMessage | null {
    if (!this.serverSide || !this.holding || (!text.trimStart().startsWith('{') && !text.trimStart().startsWith('['))) return null;
    for (const m of decodeJsonRpcText(text)) {
      const asked = (m.kind === 'response' || m.kind === 'error') && m.rpcId != null ? this.requests.get(String(m.rpcId)) : undefined;
      const named = asked ? { ...m, method: asked.method, subject: asked.subject } : m;
      if (m.kind !== 'non-json' && m.kind !== 'invalid' && holds(named, 'server->client', this.terms)) return named;
    }
    return null;
  }

  private remember(m: DecodedMessage): void {
    this.requests.set(String(m.rpcId), { method: m.method, subject: m.subject });
    if (this.requests.size > REMEMBERED_REQUESTS) this.requests.delete(this.requests.keys().next().value!);
  }

  /** A legacy SSE stream of session `id` is open: answers to its client's POSTs can be written on it. */
  openLegacyStream(id: string, write: (text: string) => boolean): () => void {
    this.legacyStreams.set(id, write);
    return () => {
      if (this.legacyStreams.get(id) === write) this.legacyStreams.delete(id);
    };
  }

  /** Writes an answer on legacy session `id`'s event stream; false when none is open through the proxy. */
  answerOnStream(id: string, text: string): boolean {
    return this.legacyStreams.get(id)?.(text) ?? false;
  }

  /** Whether an answer to a POST of legacy session `id` has a stream to go on. */
  hasLegacyStream(id: string): boolean {
    return this.legacyStreams.has(id);
  }

  /** Holds a body: its id in the held list, and what will be decided for it. */
  hold(body: string, m: DecodedMessage, route: string, noAnswer: string | null, direction: Direction, via: HeldVia): { id: number; verdict: Promise<Verdict> } {
    const held: HeldMessage = { id: this.nextId++, heldAt: Date.now(), method: m.method, subject: m.subject, rpcId: m.rpcId, body, route, noAnswer, direction, via };
    const verdict = new Promise<Verdict>((resolve) => this.waiting.set(held.id, { held, decide: resolve }));
    this.emit('change');
    return { id: held.id, verdict };
  }

  /** The client gave up on a held message: it leaves the list, nothing is sent. */
  abandon(id: number): void {
    const w = this.waiting.get(id);
    if (w) this.settle(w, { kind: 'drop' });
  }

  /** The messages held now, oldest first. */
  held(): HeldMessage[] {
    return [...this.waiting.values()].map((w) => w.held);
  }

  /** Sends the message on; with `edited`, that JSON (validated) instead. */
  forward(id: number, edited?: string): void {
    const w = this.take(id);
    if (edited == null || edited === w.held.body) return this.settle(w, { kind: 'forward', body: w.held.body, edited: false });
    this.settle(w, { kind: 'forward', body: JSON.stringify(parseRpc(edited, 'the edited message')), edited: true });
  }

  /** Answers the client in the server's place: a JSON-RPC result or error, with the held request's id. */
  answer(id: number, answer: string): void {
    const w = this.take(id);
    if (w.held.rpcId == null) throw new UsageError(`#${id} is a notification: it has no answer (forward or drop it)`);
    if (w.held.noAnswer) throw new UsageError(`#${id} ${w.held.noAnswer} (forward, edit or drop it)`);
    const v = parseRpc(answer, 'the answer') as Record<string, unknown>;
    if (!('result' in v) && !('error' in v)) throw new UsageError('the answer must be a JSON-RPC result ({"result": …}) or error ({"error": {"code": …, "message": …}})');
    this.settle(w, { kind: 'answer', body: JSON.stringify({ jsonrpc: '2.0', id: w.held.rpcId, ...v }) });
  }

  drop(id: number): void {
    this.settle(this.take(id), { kind: 'drop' });
  }

  /** Lets every held message go on as it came (the proxy is stopping). */
  releaseAll(): void {
    for (const id of [...this.waiting.keys()]) this.forward(id);
  }

  private take(id: number) {
    const w = this.waiting.get(id);
    if (!w) throw new UsageError(`no held message #${id}`);
    return w;
  }

  private settle(w: { held: HeldMessage; decide: (v: Verdict) => void }, v: Verdict): void {
    this.waiting.delete(w.held.id);
    w.decide(v);
    this.emit('change');
  }
}

function parseRpc(text: string, what: string): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} is not JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${what} must be one JSON object`);
  return v;
}

/** What the forwarder offers the intercept for one request. */
export interface InterceptHooks {
  /** Sends the request upstream: as it streams in (no body), or this whole body. */
  forward(body?: Buffer): void;
  /** Records a change on the exchange (before → after). */
  record(change: Rewrite): void;
  /** The proxy answered the client itself: the capture records it (a failure when dropped). */
  answered(status: number, headers: HeaderList, body: string, failure: Failure | null): void;
}

/**
 * Reads a POST's body whole, and holds it when a message in it matches; else sends it on as it came.
 * Only with --hold: without it the request streams upstream as it arrives.
 */
export function interceptRequest(interceptor: Interceptor, req: http.IncomingMessage, res: http.ServerResponse, route: string, hooks: InterceptHooks): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const text = raw.toString('utf8');
    const m = interceptor.matching(text);
    if (!m) return hooks.forward(raw);
    // The client may give up while it waits: the held message leaves the list with it.
    let gone = false;
    const legacyId = legacySessionIdOf(req.url ?? '');
    const noAnswer = legacyId && !interceptor.hasLegacyStream(legacyId) ? 'came over legacy SSE, and its event stream (where the answer goes) does not pass through this proxy' : null;
    const { id, verdict } = interceptor.hold(text, m, route, noAnswer, 'client->server', 'post');
    res.on('close', () => {
      if (res.writableFinished) return;
      gone = true;
      interceptor.abandon(id);
    });
    void verdict.then((v) => {
      if (gone) return;
      if (v.kind === 'forward') {
        if (v.edited) hooks.record({ kind: 'intercept-edit', before: text, after: v.body });
        return hooks.forward(Buffer.from(v.body));
      }
      if (v.kind === 'answer') {
        hooks.record({ kind: 'intercept-answer', before: null, after: v.body });
        // Legacy SSE: the POST is accepted (202, as the SDK's server answers it) and the answer goes on the stream.
        if (legacyId && !interceptor.answerOnStream(legacyId, v.body)) return refuse(res, hooks, 'answer not sent: the event stream had closed', 'the answer given at the intercept was not sent: the event stream had closed');
        const headers: HeaderList = legacyId ? [['content-type', 'text/plain'], ['x-mcptap-intercept', 'answered']] : [['content-type', 'application/json'], ['x-mcptap-intercept', 'answered']];
        const body = legacyId ? 'Accepted' : v.body;
        const status = legacyId ? 202 : 200;
        res.writeHead(status, headers.flat());
        res.end(body);
        return hooks.answered(status, headers, body, null);
      }
      refuse(res, hooks, 'dropped at the intercept', 'the request was dropped at the intercept (mcptap proxy --hold)');
    });
  });
}

/** mcptap answers the client itself with a 502: the request went nowhere (`why`, said as `message`). */
function refuse(res: http.ServerResponse, hooks: InterceptHooks, why: string, message: string): void {
  const body = JSON.stringify({ error: `mcptap: ${message}` });
  const headers: HeaderList = [['content-type', 'application/json'], ['x-mcptap-intercept', 'dropped']];
  res.writeHead(502, headers.flat());
  res.end(body);
  hooks.answered(502, headers, body, { kind: 'other', detail: why });
}
