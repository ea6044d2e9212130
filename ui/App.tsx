import React, { useEffect, useMemo, useRef, useState } from 'react';
import { Box, useApp, useInput, type Key } from 'ink';
import { Text } from './safe-text.js';
import type { CaptureStore } from '../src/store/read.js';
import { diffSessions } from '../src/analysis/diff.js';
import { loadDiffInput } from '../src/analysis/input.js';
import { runChecks } from '../src/analysis/checks/engine.js';
import { actionFor, hints, keypresses, type Screen } from './keymap.js';
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
import { TurnReader } from '../src/store/turns-read.js';
import { color } from './theme.js';
import { viewTakes, type ViewKeys } from './hooks/useViewInput.js';

export interface AppProps {
  store: CaptureStore;
  sessionId?: string;
  reference?: string;
  proxy?: { url: string; target: string; connect: string };
  /** Subscribes to lines for the user (live findings, warnings); returns the unsubscribe. */
  notices?: (listener: (line: string) => void) => () => void;
}

export function App({ store, sessionId, reference, proxy, notices }: AppProps) {
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
  const session = sessions[list.selected];
  const [seq, setSeq] = useState<number | null>(null);
  const [refId, setRefId] = useState<string | null>(reference ?? null);
  const [status, setStatus] = useState('');
  // The newest line from the proxy, in the footer until the next key (printed above the frame, it
  // scrolled out of sight under a full-height UI).
  const [notice, setNotice] = useState('');
  useEffect(() => notices?.((line) => setNotice(line.replace(/^mcptap: /, ''))), [notices]);
  const viewInput = useRef<ViewKeys | null>(null);
  const [filter, setFilter] = useState('');

  const push = (s: Screen) => setStack((st) => [...st, s]);
  // A jump from a conversation to the MCP call a tool use caused selects that call's session; back
  // selects the conversation again.
  const returns = useRef<Array<{ index: number; depth: number }>>([]);
  const back = () => setStack((st) => {
    const r = returns.current[returns.current.length - 1];
    if (r && r.depth === st.length - 1) {
      returns.current.pop();
      list.setSelected(r.index);
    }
    return st.length > 1 ? st.slice(0, -1) : st;
  });
  const jump = (sessionId: string, s: number) => {
    const index = sessions.findIndex((x) => x.id === sessionId);
    if (index < 0) return setStatus(`session ${sessionId} is not in the list`);
    returns.current.push({ index: list.selected, depth: stack.length });
    list.setSelected(index);
    setSeq(s);
    setFilter('');
    push('timeline');
  };
  const say = (fn: () => string) => {
    try {
      setStatus(fn());
    } catch (e) {
      setStatus(`failed: ${(e as Error).message.split('\n')[0]}`);
    }
  };
  const report = useMemo(() => {
    if (screen !== 'diff' || !session || !refId) return null;
    try {
      return diffSessions(loadDiffInput(refId, store), loadDiffInput(session.id, store));
    } catch (e) {
      return (e as Error).message;
    }
  }, [screen, session?.id, refId, version]);
  const findings = useMemo(() => (screen === 'problems' && session
    ? runChecks({ session, messages: [...store.iterateMessages(session.id)], exchanges: store.exchanges(session.id), streams: store.streams(session.id),
      conversation: session.transport === 'model-api' ? new TurnReader(store).context(session) : undefined })
    : []), [screen, session?.id, version]);

  // In flight: from the sessions list, every session still open; from a timeline, its session.
  const [inFlightAll, setInFlightAll] = useState(false);
  const inFlight = useInFlight(store, screen !== 'inflight' ? [] : inFlightAll ? sessions : session ? [session] : [], version);
  const now = useNow(screen === 'inflight');

  const resendMessage = useResend(store, setStatus);
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
  // Keys that came in one read are handled one per turn, each after the render the one before caused,
  // so that Enter then g then Enter opens the first row of the screen the first Enter led to.
  const queued = useRef<Array<[string, Key]>>([]);
  const draining = useRef(false);
  const onKey = useRef<(input: string, key: Key) => void>(() => undefined);
  useInput((input, key) => {
    queued.current.push(...keypresses(input, key));
    if (draining.current) return;
    draining.current = true;
    const next = () => {
      const k = queued.current.shift();
      if (!k) {
        draining.current = false;
        return;
      }
      try {
        onKey.current(k[0], k[1]);
      } finally {
        if (queued.current.length) setImmediate(next);
        else draining.current = false;
      }
    };
    next();
  });
  onKey.current = (input: string, key: Key) => {
    // A notice or status is read by the next key: then the footer shows the key hints again.
    setNotice('');
    setStatus('');
    const screen = screenRef.current;
    if (screen !== 'sessions' && screen !== 'help' && viewTakes(viewInput.current, input, key)) return;
    const a = actionFor(input, key, screen);
    if (a === 'quit') exit();
    else if (a === 'help') push('help');
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
  let body: React.ReactNode;
  if (screen === 'help') body = <HelpView height={height - 3} width={width} />;
  else if (screen === 'inflight' && inFlightAll) body = <InFlightView rows={inFlight} now={now} manySessions height={bodyHeight} width={width} input={viewInput} onOpen={jump} />;
  else if (screen === 'sessions' || !session) body = <SessionsView sessions={sessions} selected={list.selected} start={list.start} end={list.end} width={width} referenceId={refId} connect={proxy?.connect} spans={spans} />;
  else if (screen === 'timeline' && session.transport === 'model-api') {
    body = <ConversationView key={session.id} store={store} session={session} version={version} height={bodyHeight} width={width} input={viewInput} onJump={jump} onAction={onAction} />;
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
    body = <ProblemsView findings={findings} height={bodyHeight} width={width} input={viewInput} onOpen={(s) => { setSeq(s); push('detail'); }} />;
  }

  return (
    <Box flexDirection="column" width={width}>
      <Text inverse wrap="truncate-end">{` mcptap · ${proxy ? `proxy ${proxy.url} → ${proxy.target} · ` : ''}${store.file} · ${screen}${refId ? ` · reference ${refId}` : ''} `.padEnd(width)}</Text>
      <Box height={bodyHeight} flexDirection="column" overflow="hidden">
        <ErrorBoundary resetKey={`${screen}:${session?.id}:${seq}`}>{body}</ErrorBoundary>
      </Box>
      {notice
        ? <Text color={color('yellow')} wrap="truncate-end">{`⚠ ${notice}`}</Text>
        : <Text dimColor wrap="truncate-end">{status || hints(screen, width)}</Text>}
    </Box>
  );
}
