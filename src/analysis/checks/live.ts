import type { CaptureHub } from '../../capture/hub.js';
import type { RpcMessage } from '../../model/model.js';
import { runChecks } from './engine.js';
import { toolNamesOf } from '../../capture/join.js';
import { joinTurns } from '../../capture/conversation.js';
import { relevantMcpSides } from './model-context.js';
import type { ConversationContext, Finding } from './types.js';
import { consequencesLabel } from './format.js';
import { IDLE_FORGET_MS } from '../../capture/tracker.js';
import { IDLE_MS, keepExchange, keepMessage, keepStream, keepTurn, newLive, quieten, type Live } from './live-window.js';

/** What a finding is remembered by: its rule and title. */
const keyOf = (f: Finding) => `${f.ruleId}|${f.title}`;

/** How many distinct findings remember the session they were first seen in. */
const FIRST_SEEN_MAX = 1000;

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
 * this long, it is forgotten, as the session tracker forgets it (IDLE_FORGET_MS). `onFinding`: every finding,
 * once per session, to whoever counts them (proxy --metrics); only errors are printed.
 */
export function attachLiveChecks(hub: CaptureHub, print: (line: string) => void, opts: { slowMs?: number; debounceMs?: number; idleMs?: number; forgetMs?: number; clock?: LiveClock; onFinding?: (f: Finding) => void } = {}): LiveChecks {
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
  /**
   * Model conversations live now. The MCP calls a conversation joins are kept only while there is one: a
   * call its turns can name comes after the turn that asked for it, when the conversation is live already.
   */
  const conversations = new Set<Live>();
  const forget = (l: Live) => {
    live.delete(l.session.id);
    conversations.delete(l);
  };
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
    if (opts.onFinding) {
      for (const f of findings) {
        if (l.counted.has(keyOf(f))) continue;
        l.counted.add(keyOf(f));
        opts.onFinding(f);
      }
    }
    report(l, findings, print, firstSeen);
    if (l.session.endedAt) forget(l);
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
        forget(l);
        rechecks.get(l)?.cancel();
        rechecks.delete(l);
      } else if (!l.idle && t0 - l.lastEvent >= idleMs) quieten(l);
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

  const offs = [
    hub.on('turn', (t) => {
      const l = state(t.sessionId);
      if (!l) return;
      touch(l);
      keepTurn(l, t);
      schedule(l);
    }),
    hub.on('session', (s) => {
      let l = state(s.id);
      if (!l) {
        live.set(s.id, (l = newLive(s)));
        if (s.transport === 'model-api') conversations.add(l);
      }
      l.session = s;
      touch(l);
      if (s.endedAt) schedule(l);
    }),
    hub.on('exchange', (e) => {
      const l = e.sessionId ? state(e.sessionId) : undefined;
      if (!l) return;
      touch(l);
      keepExchange(l, e);
      if (e.endedAt) schedule(l);
    }),
    hub.on('stream', (f) => {
      const l = f.sessionId ? state(f.sessionId) : undefined;
      if (!l) return;
      keepStream(l, f);
      if (f.closedAt != null) schedule(l);
    }),
    hub.on('message', (m, isNew) => {
      const l = state(m.sessionId);
      if (!l) return;
      touch(l);
      keepMessage(l, m, isNew, conversations.size > 0);
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
      conversations.clear();
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

/** Prints each error finding once per session, naming the session that had it first, and later consequences apart. */
function report(l: Live, findings: Finding[], print: (line: string) => void, firstSeen: Map<string, string>): void {
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
}
