import type { CaptureHub } from '../../capture/hub.js';
import type { Exchange, RpcMessage, Session } from '../../model/model.js';
import { runChecks } from './engine.js';
import type { Turn } from '../../capture/turn.js';
import { mcpCallOf, resultOf, toolNamesOf, type McpCall } from '../../capture/join.js';
import { joinTurns } from '../../capture/conversation.js';
import { relevantMcpSides } from './model-context.js';
import type { ConversationContext, Finding } from './types.js';
import { consequencesLabel } from './format.js';
import type { StreamFacts } from '../../capture/streams.js';
import { IDLE_FORGET_MS } from '../../capture/tracker.js';

/** What a finding is remembered by: its rule and title. */
const keyOf = (f: Finding) => `${f.ruleId}|${f.title}`;

interface Live {
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
  /** A model conversation's latest turns. */
  turns?: Turn[];
  /** An MCP session's latest tools/call requests by seq, read before their payloads are cut. */
  calls?: Map<number, McpCall>;
}

/** How many distinct findings remember the session they were first seen in. */
const FIRST_SEEN_MAX = 1000;

/** Turns and MCP calls a live window keeps: far more than one turn's tool uses wait for. */
const TURN_WINDOW = 200;

/** A session quiet this long keeps only what later rules need (many clients never end theirs). */
const IDLE_MS = 10 * 60_000;

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

/** Live checks may take this share of one core at most (2%: 20 ms a second); under heavy traffic they run less often. */
const BUDGET = 0.02;

/**
 * Runs the checks beside live traffic and prints each error finding once, as one line. Work is
 * debounced, bounded per session (the newest messages, plus the handshake and the latest
 * tools/list, which later rules need), and held to a CPU budget: after a round that took d ms the
 * next waits d / BUDGET, so under heavy traffic findings come later instead of the checks taking
 * the CPU the traffic needs.
 */
export interface LiveChecks {
  stop(): void;
  /** Rounds run so far, the time spent in them, and the payload and body characters the windows hold. */
  stats(): { rounds: number; busyMs: number; heldChars: number; idleWindows: number; sessions: number };
}

/** The time and timers the budget runs on; a test passes its own to check the budget without depending on the machine's speed. */
export interface LiveClock {
  /** Monotonic milliseconds. */
  now(): number;
  after(ms: number, fn: () => void): { cancel(): void };
  /** Epoch milliseconds, for rules that age requests still waiting (default Date.now). */
  epoch?(): number;
}

/**
 * A session with requests still waiting is checked again this often though nothing arrives: a call that
 * hangs is news while it hangs (the stream rules age it against the session's history).
 */
const WAITING_RECHECK_MS = 5000;
const waiting = (l: { messages: RpcMessage[] }) => l.messages.some((m) => m.kind === 'request' && m.direction === 'client->server' && m.correlatedSeq == null);

const realClock: LiveClock = {
  now: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/**
 * `idleMs`: quiet this long, a session's window keeps only the handshake and tool list; `forgetMs`: quiet
 * this long, it is forgotten, as the session tracker forgets it (IDLE_FORGET_MS).
 */
export function attachLiveChecks(hub: CaptureHub, print: (line: string) => void, opts: { slowMs?: number; debounceMs?: number; idleMs?: number; forgetMs?: number; clock?: LiveClock } = {}): LiveChecks {
  const clock = opts.clock ?? realClock;
  const idleMs = opts.idleMs ?? IDLE_MS;
  const forgetMs = opts.forgetMs ?? IDLE_FORGET_MS;
  const live = new Map<string, Live>();
  const printed = new Set<string>();
  // A failure that comes back in a client's next attempt is news: a retry that still fails must not
  // look fixed. Each session says it once, naming the session that had it first.
  const firstSeen = new Map<string, string>();
  const debounce = opts.debounceMs ?? 250;
  const state = (id: string): Live | undefined => live.get(id);
  const dirty = new Set<Live>();
  let timer: { cancel(): void } | null = null;
  /** No round starts before this (clock ms). */
  let notBefore = 0;
  let rounds = 0;
  let busyMs = 0;

  /** A live conversation joined to the calls the MCP sessions in this process saw. */
  const conversation = (l: Live): ConversationContext | undefined => {
    if (l.session.transport !== 'model-api') return undefined;
    const others = [...live.values()].filter((x) => x.session.transport !== 'model-api' && x.session.transport !== 'http');
    const turns = joinTurns(l.turns ?? [], (t) => t.toolNames ?? [], others.flatMap((x) => [...(x.calls?.values() ?? [])]));
    const sides = others.map((x) => {
      const list = x.messages.findLast((m) => m.method === 'tools/list' && m.kind === 'response');
      return { session: x.session, tools: list ? toolNamesOf(list.payload) : null, failed: x.session.serverInfo == null };
    });
    return { turns, mcp: relevantMcpSides(turns, sides) };
  };
  const check = (l: Live) => {
    const findings = runChecks({ session: l.session, messages: l.messages, exchanges: [...l.exchanges.values()], streams: [...l.streams.values()], conversation: conversation(l) },
      { slowMs: opts.slowMs, live: !l.session.endedAt, now: clock.epoch?.() ?? Date.now() });
    for (const f of findings) {
      if (f.severity !== 'error') continue;
      const key = keyOf(f);
      // What it explains that was not told yet: a cause is printed once, and later traffic that only
      // adds consequences says so in a line of its own.
      const fresh = (f.caused ?? []).filter((c) => !l.printed.has(keyOf(c)));
      fresh.forEach((c) => l.printed.add(keyOf(c)));
      if (l.printed.has(key)) {
        if (fresh.length) print(`check: ${f.severity} [${f.ruleId}] session ${l.session.id}: later traffic only added consequences of "${f.title}": ${fresh.map((c) => `[${c.ruleId}] ${c.title}`).join('; ')}`);
        continue;
      }
      l.printed.add(key);
      const first = firstSeen.get(key);
      if (first == null && firstSeen.size < FIRST_SEEN_MAX) firstSeen.set(key, l.session.id);
      const again = first != null && first !== l.session.id ? ` (again, as in session ${first})` : '';
      const folded = f.caused?.length ? ` (${consequencesLabel(f)}: ${f.caused.map((c) => `[${c.ruleId}]`).join(' ')})` : '';
      print(`check: ${f.severity} [${f.ruleId}] session ${l.session.id}: ${f.title}${again}${folded} — fix: ${f.fix}`);
    }
    if (l.session.endedAt) live.delete(l.session.id);
    else if (waiting(l)) recheck(l);
  };
  const rechecks = new Map<Live, { cancel(): void }>();
  const recheck = (l: Live) => {
    if (rechecks.has(l)) return;
    rechecks.set(l, clock.after(WAITING_RECHECK_MS, () => {
      rechecks.delete(l);
      if (live.get(l.session.id) === l) schedule(l);
    }));
  };
  const round = () => {
    timer = null;
    const t0 = clock.now();
    const batch = [...dirty];
    dirty.clear();
    for (const l of batch) {
      try {
        check(l);
      } catch (err) {
        // A rule that breaks on odd traffic must not take the proxy down from a timer.
        if (!printed.has('!failed')) print(`check: live checks failed on session ${l.session.id}: ${(err as Error).message}`);
        printed.add('!failed');
      }
    }
    // Clients often never end a session (no DELETE, no close): a quiet one keeps only the handshake and
    // its latest tool list, so that it is checked as before if it wakes up, and memory stays flat.
    for (const l of live.values()) {
      if (dirty.has(l)) continue;
      if (t0 - l.lastEvent >= forgetMs) {
        live.delete(l.session.id);
        rechecks.get(l)?.cancel();
        rechecks.delete(l);
      } else if (!l.idle && t0 - l.lastEvent >= idleMs) {
        l.messages = outsideWindow(l.messages);
        l.exchanges.clear();
        l.streams.clear();
        l.idle = true;
      }
    }
    const end = clock.now();
    const took = end - t0;
    rounds++;
    busyMs += took;
    notBefore = end + took / BUDGET;
    if (dirty.size) schedule();
  };
  const touch = (l: Live) => {
    l.lastEvent = clock.now();
    l.idle = false;
  };
  const schedule = (l?: Live) => {
    if (l) dirty.add(l);
    if (timer) return;
    timer = clock.after(Math.max(debounce, notBefore - clock.now()), round);
  };

  const keepCall = (l: Live, m: RpcMessage, isNew: boolean) => {
    const calls = (l.calls ??= new Map());
    if (isNew && m.kind === 'request' && m.direction === 'client->server') {
      const c = mcpCallOf(m.sessionId, m.seq, m.ts, m.payload, null);
      if (c) calls.set(m.seq, c);
      if (calls.size > TURN_WINDOW) calls.delete(calls.keys().next().value!);
    } else if (isNew && m.correlatedSeq != null) {
      const c = calls.get(m.correlatedSeq);
      if (c) c.result = resultOf(m.seq, m.payload);
    }
  };

  const offs = [
    hub.on('turn', (t) => {
      const l = state(t.sessionId);
      if (!l) return;
      touch(l);
      (l.turns ??= []).push(t);
      if (l.turns.length > TURN_WINDOW) l.turns.shift();
      schedule(l);
    }),
    hub.on('session', (s) => {
      let l = state(s.id);
      if (!l) live.set(s.id, (l = { session: s, messages: [], exchanges: new Map(), streams: new Map(), lastEvent: 0, idle: false, printed: new Set() }));
      l.session = s;
      touch(l);
      if (s.endedAt) schedule(l);
    }),
    hub.on('exchange', (e) => {
      const l = e.sessionId ? state(e.sessionId) : undefined;
      if (!l) return;
      touch(l);
      l.exchanges.set(e.id, slimExchange(e));
      if (l.exchanges.size > WINDOW) l.exchanges.delete(l.exchanges.keys().next().value!);
      if (e.endedAt) schedule(l);
    }),
    hub.on('stream', (f) => {
      const l = f.sessionId ? state(f.sessionId) : undefined;
      if (!l) return;
      l.streams.set(f.exchangeId, f);
      if (l.streams.size > WINDOW) l.streams.delete(l.streams.keys().next().value!);
      if (f.closedAt != null) schedule(l);
    }),
    hub.on('message', (m, isNew) => {
      const l = state(m.sessionId);
      if (!l) return;
      touch(l);
      if (m.method === 'tools/call') keepCall(l, m, isNew);
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
      schedule(l);
    }),
  ];
  return {
    stop() {
      offs.forEach((f) => f());
      timer?.cancel();
      for (const r of rechecks.values()) r.cancel();
      rechecks.clear();
      dirty.clear();
      live.clear();
    },
    stats: () => {
      let heldChars = 0;
      for (const l of live.values()) {
        for (const m of l.messages) heldChars += m.payload.length;
        for (const e of l.exchanges.values()) heldChars += (e.requestBody?.length ?? 0) + (e.responseBody?.length ?? 0);
      }
      return { rounds, busyMs, heldChars, idleWindows: [...live.values()].filter((l) => l.idle).length, sessions: live.size };
    },
  };
}
