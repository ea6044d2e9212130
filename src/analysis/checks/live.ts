import type { CaptureHub } from '../../capture/hub.js';
import type { Exchange, RpcMessage, Session } from '../../capture/model.js';
import { runChecks } from './engine.js';

interface Live {
  session: Session;
  messages: RpcMessage[];
  exchanges: Map<string, Exchange>;
  timer: NodeJS.Timeout | null;
}

const WINDOW = 5000;

/**
 * Runs the checks beside live traffic and prints each error finding once, as one line. Work is
 * debounced per session and bounded (the newest messages, plus the handshake and the latest
 * tools/list, which later rules need), so it never grows with a long stream.
 */
export function attachLiveChecks(hub: CaptureHub, print: (line: string) => void, opts: { slowMs?: number; debounceMs?: number } = {}): () => void {
  const live = new Map<string, Live>();
  const printed = new Set<string>();
  const debounce = opts.debounceMs ?? 250;
  const state = (id: string): Live | undefined => live.get(id);

  const run = (l: Live) => {
    l.timer = null;
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
  const schedule = (l: Live) => {
    if (l.timer) return;
    l.timer = setTimeout(() => run(l), debounce);
    l.timer.unref();
  };

  const offs = [
    hub.on('session', (s) => {
      let l = state(s.id);
      if (!l) live.set(s.id, (l = { session: s, messages: [], exchanges: new Map(), timer: null }));
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
  return () => {
    offs.forEach((f) => f());
    for (const l of live.values()) if (l.timer) clearTimeout(l.timer);
    live.clear();
  };
}
