import React, { useEffect, useMemo, useRef, useState } from 'react';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import { useRequestMarks } from '../hooks/useRequestMarks.js';
import { useNow } from '../hooks/useInFlight.js';
import type { Session } from '../../src/model/model.js';
import type { CaptureStore } from '../../src/store/read.js';
import { completions, matches, parseFilter } from '../../src/analysis/filter.js';
import { actionFor } from '../keymap.js';
import { useWindowedList } from '../hooks/useWindowedList.js';
import { color } from '../theme.js';
import { TimelineRows } from './TimelineRows.js';
import { TurnReader } from '../../src/store/turns-read.js';
import { useViewInput, type SessionViewProps } from '../hooks/useViewInput.js';
import { describeGateway } from '../../src/capture/gateway.js';

const SPEEDS = [1, 4, 16, Infinity];

const describe = (c: { conversation: string; turn: number; toolUse: string }) => `turn ${c.turn} of conversation ${c.conversation} (${c.toolUse})`;

interface Props extends SessionViewProps {
  initialSeq?: number | null;
  onOpen: (seq: number) => void;
  onAction: (a: 'diff' | 'problems' | 'inflight' | 'yank' | 'export', seq: number | null) => void;
  /** The filter lives with the app, so it survives a visit to a message's detail. */
  filter: string;
  setFilter: (f: string | ((prev: string) => string)) => void;
  /** Connections open or traffic recently (see src/store/liveness.ts). */
  live: boolean;
}

/**
 * The seqs a filter keeps, or null for all (then row i is seq i + 1). The rows and the payload
 * searches are cached for the session's current data, so each keystroke only re-runs the match.
 */
function useFilteredSeqs(store: CaptureStore, session: Session, filter: string, version: number): { seqs: number[] | null; errors: string[] } {
  const parsed = useMemo(() => parseFilter(filter), [filter]);
  const active = parsed.terms.length > 0;
  const rows = useMemo(() => (active ? store.filterRows(session.id) : null), [store, session.id, version, active]);
  const hitCache = useMemo(() => new Map<string, Set<number>>(), [store, session.id, version]);
  return useMemo(() => {
    if (!rows) return { seqs: null, errors: parsed.errors };
    for (const t of parsed.terms) {
      if (t.field === 'text' && !hitCache.has(t.value)) hitCache.set(t.value, new Set(store.seqsContaining(session.id, t.value)));
    }
    return { seqs: rows.filter((r) => matches(r, parsed.terms, hitCache)).map((r) => r.seq), errors: parsed.errors };
  }, [rows, parsed, hitCache]);
}

export function TimelineView({ store, session, version, height, width, input: inputRef, initialSeq, onOpen, onAction, filter, setFilter, live }: Props) {
  const [editing, setEditingState] = useState(false);
  // Typed keys can outrun renders: the handler reads the mode from a ref, not from its closure.
  const editingRef = useRef(false);
  const setEditing = (v: boolean) => {
    editingRef.current = v;
    setEditingState(v);
  };
  const [follow, setFollow] = useState(session.endedAt == null);
  const [play, setPlay] = useState<{ head: number; paused: boolean; speed: number } | null>(null);
  const maxSeq = useMemo(() => store.maxSeq(session.id), [store, session.id, version]);
  const { seqs, errors } = useFilteredSeqs(store, session, filter, version);
  const total = seqs ? seqs.length : maxSeq;
  const count = play ? Math.min(total, play.head + 1) : total;
  const caused = useMemo(() => new TurnReader(store).causedCalls(session), [store, session.id, version]);
  const rowsHeight = Math.max(3, height - 3 - (caused.size ? 1 : 0));
  const list = useWindowedList(count, rowsHeight, initialSeq ? Math.max(0, (seqs ? seqs.indexOf(initialSeq) : initialSeq - 1)) : 0);
  const seqAt = (i: number) => (seqs ? seqs[i] : i + 1);

  useEffect(() => {
    if (follow && !play) list.setSelected(count - 1);
  }, [follow, count, play]);
  useEffect(() => {
    if (play) list.setSelected(play.head);
  }, [play?.head]);

  // Playback: the next message appears after the recorded gap, divided by the speed.
  useEffect(() => {
    if (!play || play.paused || play.head >= total - 1) return;
    const [a, b] = store.timeline(session.id, { seqs: [seqAt(play.head), seqAt(play.head + 1)] });
    const gap = a && b ? Math.max(0, b.ts - a.ts) : 0;
    const t = setTimeout(() => setPlay((p) => (p ? { ...p, head: p.head + 1 } : p)), play.speed === Infinity ? 1 : Math.min(2000, gap / play.speed));
    return () => clearTimeout(t);
  }, [play, total]);

  const rows = useMemo(() => {
    const want = Array.from({ length: list.end - list.start }, (_, i) => seqAt(list.start + i));
    return want.length ? store.timeline(session.id, seqs ? { seqs: want } : { fromSeq: want[0], limit: want.length }) : [];
  }, [store, session.id, list.start, list.end, seqs, version]);
  const selectedSeq = count ? seqAt(list.selected) : null;
  const marks = useRequestMarks(store, session, rows, version);
  const now = useNow(live && [...marks.values()].includes('waiting'));

  useViewInput(inputRef, (input, key) => {
    if (editingRef.current) {
      if (key.return || key.escape) setEditing(false); else if (key.backspace || key.delete) setFilter((f) => f.slice(0, -1));
      else if (key.tab) {
        const c = completions(filter)[0];
        if (c) setFilter((f) => f.replace(/\S*$/, c));
      } else if (input && !key.ctrl && !key.meta) setFilter((f) => f + input);
      return;
    }
    const a = actionFor(input, key, 'timeline');
    if (!a) return false;
    if (a === 'filter') setEditing(true); else if (a === 'follow') setFollow((f) => !f);
    else if (a === 'up' || a === 'down' || a === 'pageUp' || a === 'pageDown' || a === 'top' || a === 'bottom') {
      setFollow(false);
      if (play) setPlay({ ...play, paused: true });
      const step = { up: -1, down: 1, pageUp: -rowsHeight, pageDown: rowsHeight, top: -Infinity, bottom: Infinity }[a];
      if (step === -Infinity) list.setSelected(0);
      else if (step === Infinity) list.setSelected(count - 1);
      else list.move(step);
    } else if (a === 'open' && selectedSeq != null) onOpen(selectedSeq);
    else if (a === 'play') setPlay(play ? null : { head: 0, paused: false, speed: 1 });
    else if (a === 'pause' && play) setPlay({ ...play, paused: !play.paused });
    else if (a === 'stepForward' && play) setPlay({ ...play, paused: true, head: Math.min(total - 1, play.head + 1) });
    else if (a === 'stepBack' && play) setPlay({ ...play, paused: true, head: Math.max(0, play.head - 1) });
    else if (a === 'speed' && play) setPlay({ ...play, speed: SPEEDS[(SPEEDS.indexOf(play.speed) + 1) % SPEEDS.length] });
    else if (a === 'diff' || a === 'problems' || a === 'inflight' || a === 'yank' || a === 'export') onAction(a, selectedSeq);
    else return false;
    return true;
  }, () => editingRef.current);

  const hint = editing ? completions(filter).join('  ') : '';
  const playLine = play ? `▶ playback ${play.head >= total - 1 ? 'at the end' : play.paused ? 'paused' : 'playing'} ${play.speed === Infinity ? 'max' : play.speed + '×'}  ${play.head + 1}/${total}  (space pause · , . step · s speed · p stop)` : '';
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text bold>{`session ${session.id}`}</Text>
        {` · ${total}${seqs ? ` of ${maxSeq}` : ''} messages${follow && !play ? ' · following' : ''}${live ? ' · live' : ''} · ${session.transport}${session.grouping ? ` (stateless${session.grouping.uncertain ? `, ${session.grouping.guessed} placed by guess` : ''})` : ''} · ${session.clientInfo?.name ?? '?'} → ${session.serverInfo?.name ?? '?'}${session.gateway ? ` ${describeGateway(session.gateway)}` : ''} · protocol ${session.protocolVersion ?? '?'}`}
      </Text>
      <Text wrap="truncate-end" color={editing ? color('yellow') : undefined}>
        {`filter: ${filter}${editing ? '▏' : ''}`}
        <Text dimColor>{editing ? `   ${hint}` : filter ? '' : '   (/ to filter)'}</Text>
        {errors.length ? <Text color={color('red')}>{`   ${errors[0]}`}</Text> : null}
      </Text>
      {playLine ? <Text wrap="truncate-end" color={color('magenta')}>{playLine}</Text> : null}
      {caused.size ? <Text dimColor wrap="truncate-end">{`◆ ${caused.size} tools/call caused by a model turn${selectedSeq != null && caused.has(selectedSeq) ? ` · this one: ${describe(caused.get(selectedSeq)!)}` : ''}`}</Text> : null}
      <TimelineRows rows={rows} selectedSeq={selectedSeq} startedAt={session.startedAt} width={width} caused={caused} marks={marks} now={live ? now : undefined} />
    </Box>
  );
}
