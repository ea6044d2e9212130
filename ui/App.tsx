import React, { useEffect, useMemo, useRef, useState } from 'react';
import { Box, useApp, useInput, type Key } from 'ink';
import { Text } from './safe-text.js';
import type { CaptureStore } from '../src/store/read.js';
import type { Session } from '../src/model/model.js';
import { diffSessions } from '../src/analysis/diff.js';
import { loadDiffInput } from '../src/analysis/input.js';
import { checkStored } from '../src/analysis/checks/error-count.js';
import { useErrorCounts } from './hooks/useErrorCounts.js';
import { actionFor, hints, type Screen } from './keymap.js';
import { keypressReader, type Keypress } from './keypress.js';
import { useDataVersion } from './hooks/useDataVersion.js';
import { useSessions, useSpans } from './hooks/useSessions.js';
import { isLive } from '../src/store/liveness.js';
import { useWindowedList } from './hooks/useWindowedList.js';
import { useTerminalSize } from './hooks/useTerminalSize.js';
import { ErrorBoundary } from './ErrorBoundary.js';
import { exportSession, writeCurl, yankMessage } from './actions.js';
import { useResend } from './hooks/useResend.js';
import { SessionsView } from './views/SessionsView.js';
import { TimelineView } from './views/TimelineView.js';
import { DetailView } from './views/DetailView.js';
import { DiffView } from './views/DiffView.js';
import { ProblemsView } from './views/ProblemsView.js';
import { InFlightView } from './views/InFlightView.js';
import { useInFlight, useNow } from './hooks/useInFlight.js';
import { HelpView } from './views/HelpView.js';
import { ConversationView } from './views/ConversationView.js';
import { color } from './theme.js';
import { viewTakes, type ViewKeys } from './hooks/useViewInput.js';
import type { HoldControl } from '../src/proxy/intercept.js';
import { useHeld } from './hooks/useHeld.js';
import { useIntercept } from './hooks/useIntercept.js';
import { HeldView } from './views/HeldView.js';
import { ExchangesView } from './views/ExchangesView.js';
import { ExchangeView } from './views/ExchangeView.js';

export interface AppProps {
  store: CaptureStore;
  sessionId?: string;
  reference?: string;
  proxy?: { url: string; target: string; connect: string };
  /** Subscribes to lines for the user (live findings, warnings); returns the unsubscribe. */
  notices?: (listener: (line: string) => void) => () => void;
  /** Called when the user quits with Ctrl-C (the command then exits 130, not 0). */
  onInterrupt?: () => void;
  /**
   * What `--hold FILTER` holds, decided on the held screen (h): the interceptor of `proxy --ui`, or the hold
   * channel of the running proxy `mcptap tui` is attached to.
   */
  interceptor?: HoldControl;
}

export function App({ store, sessionId, reference, proxy, notices, onInterrupt, interceptor }: AppProps) {
  const { exit } = useApp();
  const size = useTerminalSize();
  const width = Math.max(40, size.columns - 1);
  const height = Math.max(10, size.rows);
  const version = useDataVersion(store);
  const sessions = useSessions(store, version);
  const spans = useSpans(store, version);
  const [stack, setStack] = useState<Screen[]>(sessionId ? ['sessions', 'timeline'] : ['sessions']);
  const screen = stack[stack.length - 1];
  const list = useWindowedList(sessions.length, height - 5, sessionId ? Math.max(0, sessions.findIndex((s) => s.id === sessionId)) : sessions.length - 1);
  // The session a screen past the list shows, by id: a session written late or pruned by another
  // process shifts the list's positions, and must not swap the open timeline for another session.
  const [openId, setOpenId] = useState<string | null>(sessionId ?? null);
  const selected = sessions[list.selected];
  const session = screen === 'sessions' || !openId ? selected : sessions.find((s) => s.id === openId);
  // The list's selection follows the selected session when rows are inserted or removed above it.
  const selectedId = useRef<string | undefined>(undefined);
  useEffect(() => {
    const at = selectedId.current ? sessions.findIndex((s) => s.id === selectedId.current) : -1;
    if (at >= 0 && at !== list.selected) list.setSelected(at);
  }, [sessions]);
  useEffect(() => {
    selectedId.current = sessions[list.selected]?.id;
  });
  const [seq, setSeq] = useState<number | null>(null);
  const [refId, setRefId] = useState<string | null>(reference ?? null);
  const [status, setStatus] = useState('');
  // The newest line from the proxy, in the footer until the next key (printed above the frame, it
  // scrolled out of sight under a full-height UI).
  const [notice, setNotice] = useState('');
  useEffect(() => notices?.((line) => setNotice(line.replace(/^mcptap: /, ''))), [notices]);
  const viewInput = useRef<ViewKeys | null>(null);
  const [filter, setFilter] = useState('');

  const push = (s: Screen) => {
    if (screenRef.current === 'sessions') setOpenId(selected?.id ?? null);
    setStack((st) => [...st, s]);
  };
  // A jump from a conversation to the MCP call a tool use caused selects that call's session; back
  // selects the conversation again.
  const returns = useRef<Array<{ id: string | null; depth: number }>>([]);
  const back = () => setStack((st) => {
    const r = returns.current[returns.current.length - 1];
    if (r && r.depth === st.length - 1) {
      returns.current.pop();
      setOpenId(r.id);
      selectedId.current = r.id ?? undefined;
      const at = sessions.findIndex((x) => x.id === r.id);
      if (at >= 0) list.setSelected(at);
    }
    return st.length > 1 ? st.slice(0, -1) : st;
  });
  const jump = (sessionId: string, s: number) => {
    const index = sessions.findIndex((x) => x.id === sessionId);
    if (index < 0) return setStatus(`session ${sessionId} is not in the list`);
    returns.current.push({ id: session?.id ?? null, depth: stack.length });
    selectedId.current = sessionId;
    setOpenId(sessionId);
    list.setSelected(index);
    setSeq(s);
    setFilter('');
    push('timeline');
  };
  // An exchange opens as its first message; one that carried none (a refused GET stream) opens on its own.
  const [exchangeId, setExchangeId] = useState<string | null>(null);
  const openExchange = (id: string) => {
    if (!session) return;
    const first = [...store.iterateMessages(session.id)].find((m) => m.exchangeId === id);
    if (first) {
      setSeq(first.seq);
      return push('detail');
    }
    setExchangeId(id);
    push('exchange');
  };
  const say = (fn: () => string) => {
    try {
      setStatus(fn());
    } catch (e) {
      setStatus(`failed: ${(e as Error).message.split('\n')[0]}`);
    }
  };
  // What a session's problems and diff are computed from changes only when its own traffic does: the
  // data version moves with every commit of any session (every ~300 ms while a proxy writes).
  const traffic = (s: Session | undefined) => {
    const span = s && spans.get(s.id);
    return s ? `${s.id}:${s.messageCount}:${s.exchangeCount}:${s.endedAt}:${span?.lastTrafficAt}:${span?.open}` : '';
  };
  const shown = traffic(session);
  const refShown = traffic(sessions.find((s) => s.id === refId));
  const report = useMemo(() => {
    if (screen !== 'diff' || !session || !refId) return null;
    try {
      return diffSessions(loadDiffInput(refId, store), loadDiffInput(session.id, store));
    } catch (e) {
      return (e as Error).message;
    }
  }, [screen, shown, refId, refShown]);
  const findings = useMemo(() => (screen === 'problems' && session ? checkStored(store, session) : []), [screen, shown]);
  const errors = useErrorCounts(store, sessions.slice(list.start, list.end), version, screen === 'sessions');

  // In flight: from the sessions list, every session still open; from a timeline, its session.
  const [inFlightAll, setInFlightAll] = useState(false);
  const inFlight = useInFlight(store, screen !== 'inflight' ? [] : inFlightAll ? sessions : session ? [session] : [], version);
  const now = useNow(screen === 'inflight');

  const resendMessage = useResend(store, setStatus);
  const held = useHeld(interceptor);
  const decide = useIntercept(interceptor, setStatus);
  const heldNow = useNow(screen === 'held');
  const onAction = (a: 'diff' | 'problems' | 'inflight' | 'yank' | 'export' | 'resend' | 'curl', s: number | null) => {
    if (a === 'inflight') {
      setInFlightAll(screenRef.current === 'sessions');
      return push('inflight');
    }
    if (!session) return;
    if (a === 'diff') {
      if (refId) push('diff');
      else setStatus('no reference: mark one with r in the sessions list, or start with --reference SESSION|FILE');
    } else if (a === 'problems') push('problems');
    else if (a === 'yank' && s != null) say(() => `wrote message #${s} to ${yankMessage(store, session.id, s)}`);
    else if (a === 'export') say(() => `exported session ${session.id} to ${exportSession(store, session.id)}`);
    else if (a === 'curl' && s != null) say(() => `wrote the exchange of #${s} as a curl command to ${writeCurl(store, session.id, s)}`);
    else if (a === 'resend' && s != null) resendMessage(session, s);
  };

  // Read through a ref: a key can arrive before Ink re-binds this handler after a render.
  const screenRef = useRef(screen);
  screenRef.current = screen;
  // Keys that came in one read are handled one per render: each after React committed what the one
  // before changed, so `g` then `r` marks the row `g` selected, and Enter g Enter opens the first row
  // of the screen the first Enter led to. A key that changes nothing still moves the turn on.
  const reader = useRef(keypressReader());
  const queued = useRef<Keypress[]>([]);
  const [turn, setTurn] = useState(0);
  const onKey = useRef<(k: Keypress) => void>(() => undefined);
  const handleNext = () => {
    const k = queued.current.shift();
    if (!k) return;
    try {
      onKey.current(k);
    } finally {
      if (queued.current.length) setTurn((t) => t + 1);
    }
  };
  useEffect(handleNext, [turn]);
  useInput((input, key) => {
    const idle = queued.current.length === 0;
    queued.current.push(...reader.current(input, key));
    if (idle) handleNext();
  });
  onKey.current = ({ input, key, paste }: Keypress) => {
    // A notice or status is read by the next key: then the footer shows the key hints again.
    setNotice('');
    setStatus('');
    if (input === 'c' && key.ctrl) {
      onInterrupt?.();
      return exit();
    }
    const screen = screenRef.current;
    // A paste is text: typed into the field being edited, never taken as keys (pasted prose would
    // otherwise export, quit, and so on, one letter at a time).
    if (paste) {
      const view = screen === 'sessions' || screen === 'help' ? null : viewInput.current;
      if (view?.typing()) view.onKey(input.replace(/[\r\n\t]+/g, ' '), { ...key });
      else setStatus('pasted text ignored: no field is being edited here (/ opens the filter)');
      return;
    }
    if (screen !== 'sessions' && screen !== 'help' && viewTakes(viewInput.current, input, key)) return;
    const a = actionFor(input, key, screen);
    if (a === 'quit') exit();
    else if (a === 'help') push('help');
    else if (a === 'held') {
      if (interceptor) push('held');
      else setStatus('nothing is intercepted here: start mcptap proxy --hold FILTER (with --ui, or beside this TUI)');
    }
    else if (a === 'back') back();
    else if (screen === 'sessions') {
      if (a === 'up') list.move(-1);
      else if (a === 'down') list.move(1);
      else if (a === 'pageUp') list.move(-(height - 5));
      else if (a === 'pageDown') list.move(height - 5);
      else if (a === 'top') list.setSelected(0);
      else if (a === 'bottom') list.setSelected(sessions.length - 1);
      else if (a === 'open' && session) {
        setSeq(null);
        setFilter('');
        push('timeline');
      } else if (a === 'reference' && session) {
        setRefId(session.id);
        setStatus(`reference: ${session.id}${session.label ? ` (${session.label})` : ''} — select another session and press d`);
      } else if (a === 'diff' || a === 'problems' || a === 'inflight') onAction(a, null);
    }
  };

  const bodyHeight = height - 3;
  const messageless = !!session && session.transport !== 'model-api' && session.messageCount === 0 && session.exchangeCount > 0;
  let body: React.ReactNode;
  if (screen === 'help') body = <HelpView height={height - 3} width={width} />;
  else if (screen === 'held') body = <HeldView held={held} filter={interceptor?.filter ?? ''} now={heldNow} height={bodyHeight} width={width} input={viewInput} onDecide={decide} />;
  else if (screen === 'inflight' && inFlightAll) body = <InFlightView rows={inFlight} now={now} manySessions height={bodyHeight} width={width} input={viewInput} onOpen={jump} />;
  else if (screen !== 'sessions' && !session && openId) body = <Text color={color('yellow')}>{`session ${openId} is no longer in the database (pruned by another process?); Esc goes back to the list`}</Text>;
  else if (screen === 'sessions' || !session) body = <SessionsView sessions={sessions} selected={list.selected} start={list.start} end={list.end} width={width} referenceId={refId} connect={proxy?.connect} spans={spans} errors={errors} />;
  else if (screen === 'timeline' && session.transport === 'model-api') {
    body = <ConversationView key={session.id} store={store} session={session} version={version} height={bodyHeight} width={width} input={viewInput} onJump={jump} onAction={onAction} />;
  } else if (screen === 'timeline' && messageless) {
    // No JSON-RPC message at all (a refused or hanging GET of a legacy SSE client): its exchanges are the timeline.
    body = <ExchangesView key={session.id} store={store} session={session} version={version} height={bodyHeight} width={width} input={viewInput} live={isLive(session, spans.get(session.id))}
      onOpen={openExchange} onAction={onAction} />;
  } else if (screen === 'exchange' && exchangeId) {
    body = <ExchangeView store={store} session={session} exchangeId={exchangeId} version={version} height={bodyHeight} width={width} input={viewInput} />;
  } else if (screen === 'timeline') {
    body = <TimelineView key={session.id} store={store} session={session} version={version} height={bodyHeight} width={width} input={viewInput} initialSeq={seq} live={isLive(session, spans.get(session.id))}
      onOpen={(s) => { setSeq(s); push('detail'); }} onAction={onAction} filter={filter} setFilter={setFilter} />;
  } else if (screen === 'detail' && seq != null) {
    body = <DetailView store={store} session={session} seq={seq} height={bodyHeight} width={width} input={viewInput} onJump={setSeq} onAction={onAction} />;
  } else if (screen === 'diff') {
    body = typeof report === 'string' || !report
      ? <Text color={color('red')}>{`cannot diff: ${report ?? 'no reference'}`}</Text>
      : <DiffView report={report} height={bodyHeight} width={width} input={viewInput} onOpen={(s) => { setSeq(s); push('detail'); }} />;
  } else if (screen === 'inflight') {
    body = <InFlightView rows={inFlight} now={now} manySessions={inFlightAll} height={bodyHeight} width={width} input={viewInput} onOpen={jump} />;
  } else if (screen === 'problems') {
    body = <ProblemsView findings={findings} height={bodyHeight} width={width} input={viewInput} onOpen={(s) => { setSeq(s); push('detail'); }} onOpenExchange={openExchange} />;
  }

  return (
    <Box flexDirection="column" width={width}>
      <Text inverse wrap="truncate-end">{` mcptap · ${interceptor ? `${held.length} held (h) · ` : ''}${proxy ? `proxy ${proxy.url} → ${proxy.target} · ` : ''}${store.file} · ${screen}${refId ? ` · reference ${refId}` : ''} `.padEnd(width)}</Text>
      <Box height={bodyHeight} flexDirection="column" overflow="hidden">
        <ErrorBoundary resetKey={`${screen}:${session?.id}:${seq}:${exchangeId}`}>{body}</ErrorBoundary>
      </Box>
      {notice
        ? <Text color={color('yellow')} wrap="truncate-end">{`⚠ ${notice}`}</Text>
        : <Text dimColor wrap="truncate-end">{status || hints(screen === 'timeline' && messageless ? 'exchanges' : screen, width)}</Text>}
    </Box>
  );
}
