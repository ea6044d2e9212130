import type { Exchange, RpcMessage, Session } from '../../model/model.js';
import type { Turn } from '../../capture/turn.js';
import type { StreamFacts } from '../../capture/streams.js';
import { mcpCallOf, resultOf, type McpCall } from '../../capture/join.js';

// What live checks keep of each session: a window of its newest traffic, cut so that memory does not grow
// with payload size, plus what later rules need (the handshake and the latest tool list).

export interface Live {
  session: Session;
  messages: RpcMessage[];
  exchanges: Map<string, Exchange>;
  /** The facts of its streams (who ended each and how), by exchange id, as `mcptap check` reads them. */
  streams: Map<string, StreamFacts>;
  /** Clock time of the last capture event for the session. */
  lastEvent: number;
  /** The window was trimmed for idleness and nothing came since. */
  idle: boolean;
  /** Findings already printed for this session (rule and title), roots and their consequences. */
  printed: Set<string>;
  /** Findings already handed to `onFinding` (every severity). */
  counted: Set<string>;
  /** A model conversation's latest turns. */
  turns?: Turn[];
  /** An MCP session's latest tools/call requests by seq, read before their payloads are cut. */
  calls?: Map<number, McpCall>;
}

/** Turns and MCP calls a live window keeps: far more than one turn's tool uses wait for. */
const TURN_WINDOW = 200;

/** A session quiet this long keeps only what later rules need (many clients never end theirs). */
export const IDLE_MS = 10 * 60_000;

const WINDOW = 1000;
/**
 * Characters of a payload or body the window keeps. Rules read the start of what they do not parse
 * (an error's text, a stream's endpoint event); `mcptap check` reads everything from the database.
 * Whole payloads in a window of 1,000 were up to 1,000 × 8 MiB held per session: a stream of 500 KB
 * events grew the proxy by ~480 MB.
 */
const KEEP_CHARS = 1024;

/** A copy of `s` cut to KEEP_CHARS that holds no reference to `s` (a V8 slice would keep it alive). */
const cut = (s: string) => Buffer.from(s.slice(0, KEEP_CHARS), 'utf8').toString('utf8');
const big = (s: string | null) => s != null && s.length > KEEP_CHARS;
/** What the rules parse whole: the handshake and the tool list. */
const whole = (m: RpcMessage) => m.method === 'initialize' || (m.method === 'tools/list' && m.kind === 'response');

function slimMessage(m: RpcMessage): RpcMessage {
  return big(m.payload) && !whole(m) ? { ...m, payload: cut(m.payload), truncated: true } : m;
}

function slimExchange(e: Exchange): Exchange {
  if (!big(e.requestBody) && !big(e.responseBody)) return e;
  return { ...e, requestBody: big(e.requestBody) ? cut(e.requestBody!) : e.requestBody, responseBody: big(e.responseBody) ? cut(e.responseBody!) : e.responseBody };
}

/** A tools/list request for a page after the first (params.cursor). */
function nextPage(m: RpcMessage): boolean {
  try {
    return JSON.parse(m.payload)?.params?.cursor != null;
  } catch {
    return false;
  }
}

/**
 * Of messages leaving the window, what later rules still need: the handshake and the latest tool
 * list, every page of it (from the last tools/list request without a cursor on), with the requests.
 */
function outsideWindow(ms: RpcMessage[]): RpcMessage[] {
  let start = -1;
  for (let i = ms.length - 1; i >= 0 && start < 0; i--) {
    if (ms[i].method === 'tools/list' && ms[i].kind === 'request' && !nextPage(ms[i])) start = i;
  }
  // Its first page answered before the window: the latest answer is all there is to keep.
  if (start < 0) {
    const list = ms.findLast((x) => x.method === 'tools/list' && x.kind === 'response');
    return ms.filter((x) => x.method === 'initialize' || (list != null && (x === list || x.seq === list.correlatedSeq)));
  }
  return ms.filter((x, i) => x.method === 'initialize' || (i >= start && x.method === 'tools/list'));
}

/** Index of the message with this seq in a window sorted by seq, or -1. */
function indexOfSeq(ms: RpcMessage[], seq: number): number {
  let lo = 0;
  let hi = ms.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ms[mid].seq === seq) return mid;
    if (ms[mid].seq < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

export function newLive(session: Session): Live {
  return { session, messages: [], exchanges: new Map(), streams: new Map(), lastEvent: 0, idle: false, printed: new Set(), counted: new Set() };
}

/** A quiet session keeps only what later rules need. */
export function quieten(l: Live): void {
  l.messages = outsideWindow(l.messages);
  l.exchanges.clear();
  l.streams.clear();
  l.idle = true;
}

export function keepTurn(l: Live, t: Turn): void {
  (l.turns ??= []).push(t);
  if (l.turns.length > TURN_WINDOW) l.turns.shift();
}

export function keepExchange(l: Live, e: Exchange): void {
  l.exchanges.set(e.id, slimExchange(e));
  if (l.exchanges.size > WINDOW) l.exchanges.delete(l.exchanges.keys().next().value!);
}

export function keepStream(l: Live, f: StreamFacts): void {
  l.streams.set(f.exchangeId, f);
  if (l.streams.size > WINDOW) l.streams.delete(l.streams.keys().next().value!);
}

/** A message new (`isNew`) or updated (a request learning its response); `calls`: keep tools/call for the join with model turns. */
export function keepMessage(l: Live, m: RpcMessage, isNew: boolean, calls = true): void {
  if (calls && m.method === 'tools/call') keepCall(l, m, isNew);
  const slim = slimMessage(m);
  if (isNew) {
    l.messages.push(slim);
    if (l.messages.length > WINDOW * 1.2) {
      l.messages = [...outsideWindow(l.messages.slice(0, l.messages.length - WINDOW)), ...l.messages.slice(-WINDOW)];
    }
  } else if (slim !== m) {
    // A cut copy does not see the update (a request learning its response): put the new state in.
    const i = indexOfSeq(l.messages, m.seq);
    if (i >= 0) l.messages[i] = slim;
  }
}

function keepCall(l: Live, m: RpcMessage, isNew: boolean): void {
  const calls = (l.calls ??= new Map());
  if (isNew && m.kind === 'request' && m.direction === 'client->server') {
    const c = mcpCallOf(m.sessionId, m.seq, m.ts, m.payload, null);
    if (c) calls.set(m.seq, c);
    if (calls.size > TURN_WINDOW) calls.delete(calls.keys().next().value!);
  } else if (isNew && m.correlatedSeq != null) {
    const c = calls.get(m.correlatedSeq);
    if (c) c.result = resultOf(m.seq, m.payload);
  }
}
