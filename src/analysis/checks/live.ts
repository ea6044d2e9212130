import type { CaptureHub } from '../../capture/hub.js';
import type { Exchange, RpcMessage, Session } from '../../capture/model.js';
import { runChecks } from './engine.js';

interface Live {
  session: Session;
  messages: RpcMessage[];
  exchanges: Map<string, Exchange>;
}

const WINDOW = 1000;
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
  /** Rounds run so far and the time spent in them. */
  stats(): { rounds: number; busyMs: number };
}

export function attachLiveChecks(hub: CaptureHub, print: (line: string) => void, opts: { slowMs?: number; debounceMs?: number } = {}): LiveChecks {
  const live = new Map<string, Live>();
  const printed = new Set<string>();
  const debounce = opts.debounceMs ?? 250;
  const state = (id: string): Live | undefined => live.get(id);
  const dirty = new Set<Live>();
  let timer: NodeJS.Timeout | null = null;
  /** No round starts before this (performance.now() ms). */
  let notBefore = 0;
  let rounds = 0;
  let busyMs = 0;

  const check = (l: Live) => {
    const findings = runChecks({ session: l.session, messages: l.messages, exchanges: [...l.exchanges.values()] }, { slowMs: opts.slowMs, live: !l.session.endedAt, now: Date.now() });
    for (const f of findings) {
      if (f.severity !== 'error') continue;
      // The same failure in a client's next attempt (a new session) is not news: once per run.
      const key = `${f.ruleId}|${f.title}`;
      if (printed.has(key)) continue;
      printed.add(key);
      print(`check: ${f.severity} [${f.ruleId}] session ${l.session.id}: ${f.title} — fix: ${f.fix}`);
    }
    if (l.session.endedAt) live.delete(l.session.id);
  };
  const round = () => {
    timer = null;
    const t0 = performance.now();
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
    const took = performance.now() - t0;
    rounds++;
    busyMs += took;
    notBefore = performance.now() + took / BUDGET;
    if (dirty.size) schedule();
  };
  const schedule = (l?: Live) => {
    if (l) dirty.add(l);
    if (timer) return;
    timer = setTimeout(round, Math.max(debounce, notBefore - performance.now()));
    timer.unref();
  };

  const offs = [
    hub.on('session', (s) => {
      let l = state(s.id);
      if (!l) live.set(s.id, (l = { session: s, messages: [], exchanges: new Map() }));
      l.session = s;
      if (s.endedAt) schedule(l);
    }),
    hub.on('exchange', (e) => {
      const l = e.sessionId ? state(e.sessionId) : undefined;
      if (!l) return;
      l.exchanges.set(e.id, e);
      if (l.exchanges.size > WINDOW) l.exchanges.delete(l.exchanges.keys().next().value!);
      if (e.endedAt) schedule(l);
    }),
    hub.on('message', (m, isNew) => {
      const l = state(m.sessionId);
      if (!l) return;
      if (isNew) {
        l.messages.push(m);
        if (l.messages.length > WINDOW * 1.2) {
          const keep = (x: RpcMessage) => x.method === 'initialize' || x.method === 'tools/list';
          const old = l.messages.slice(0, l.messages.length - WINDOW).filter(keep);
          l.messages = [...old, ...l.messages.slice(-WINDOW)];
        }
      }
      schedule(l);
    }),
  ];
  return {
    stop() {
      offs.forEach((f) => f());
      if (timer) clearTimeout(timer);
      dirty.clear();
      live.clear();
    },
    stats: () => ({ rounds, busyMs }),
  };
}
