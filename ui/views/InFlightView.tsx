import React from 'react';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import { duration, pad } from '../../src/cli/format.js';
import { actionFor } from '../keymap.js';
import { useWindowedList } from '../hooks/useWindowedList.js';
import { color } from '../theme.js';
import { useViewInput, type ViewInputRef } from '../hooks/useViewInput.js';
import type { InFlightRow } from '../hooks/useInFlight.js';

interface Props {
  rows: InFlightRow[];
  /** The time the ages are counted to (it moves every second). */
  now: number;
  /** Several sessions: each row says which. */
  manySessions: boolean;
  height: number;
  width: number;
  input: ViewInputRef;
  onOpen: (sessionId: string, seq: number) => void;
}

const STREAM_STATE = (r: InFlightRow) => {
  const s = r.stream;
  if (!s) return r.facts.waitsOn ? 'no stream' : '—';
  return `${s.kind} ${s.exchangeId.slice(-4)} ${s.closedAt == null ? 'open' : s.end ?? 'closed'}`;
};

/**
 * Every request still waiting for its answer, live: what a person looks at while the client seems stuck.
 * Below them, the ones whose client gave up while the server may still be working.
 */
export function InFlightView({ rows, now, manySessions, height, width, input: inputRef, onOpen }: Props) {
  const waiting = rows.filter((r) => r.facts.gaveUpAt == null);
  const abandoned = rows.filter((r) => r.facts.gaveUpAt != null);
  const all = [...waiting, ...abandoned];
  const list = useWindowedList(all.length, Math.max(3, height - 4));
  useViewInput(inputRef, (input, key) => {
    const a = actionFor(input, key, 'inflight');
    if (a === 'up') list.move(-1);
    else if (a === 'down') list.move(1);
    else if (a === 'top') list.setSelected(0);
    else if (a === 'bottom') list.setSelected(all.length - 1);
    else if (a === 'open' && all[list.selected]) onOpen(all[list.selected].session.id, all[list.selected].facts.request.seq);
    else return false;
    return true;
  });
  const c = { age: 9, session: manySessions ? 13 : 0, id: 6, stream: 26, last: 16, progress: 5 };
  const method = Math.max(12, width - (c.age + c.session + c.id + c.stream + c.last + c.progress + 6));
  const head = `${pad('AGE', c.age)} ${c.session ? pad('SESSION', c.session - 1) + ' ' : ''}${pad('METHOD / TOOL', method)} ${pad('ID', c.id)} ${pad('WAITS ON', c.stream)} ${pad('LAST BYTE', c.last)} ${pad('PROG', c.progress)}`;
  const line = (r: InFlightRow) => {
    const m = r.facts.request;
    const last = r.stream ? r.stream.lastActivityAt ?? r.stream.firstByteAt : null;
    const lastText = last == null ? (r.stream ? 'none yet' : '') : `${duration(now - last)} ago`;
    const name = `${m.direction === 'server->client' ? '← ' : ''}${m.method ?? '?'}${m.subject ? ' ' + m.subject : ''}`;
    const age = r.facts.gaveUpAt == null ? duration(now - m.ts) : `gave up ${duration(r.facts.gaveUpAt - m.ts)}`;
    return `${pad(age, c.age)} ${c.session ? pad(r.session.id.slice(0, 12), c.session - 1) + ' ' : ''}${pad(name, method)} ${pad(m.rpcId == null ? '' : String(m.rpcId), c.id)} ${pad(STREAM_STATE(r), c.stream)} ${pad(lastText, c.last)} ${pad(String(r.facts.progress.length || ''), c.progress)}`;
  };
  const visible = all.slice(list.start, list.end);
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">{`in flight · ${waiting.length} waiting${abandoned.length ? ` · ${abandoned.length} abandoned by the client (the server may still answer)` : ''} · live`}</Text>
      {all.length === 0 ? <Text color={color('green')}>{'Nothing waiting: every request has its answer.'}</Text> : <Text bold wrap="truncate-end">{head}</Text>}
      {visible.map((r, i) => (
        <Text key={`${r.session.id}:${r.facts.request.seq}`} wrap="truncate-end" inverse={list.start + i === list.selected}
          color={r.facts.gaveUpAt != null ? color('red') : r.stream?.closedAt != null ? color('yellow') : undefined}>
          {pad(line(r), width)}
        </Text>
      ))}
    </Box>
  );
}
