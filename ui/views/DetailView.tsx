import React, { useMemo, useState } from 'react';
import { useScroll } from '../hooks/useScroll.js';
import { exchangeLines } from './exchange-lines.js';
import { decodeErrorText } from '../../src/model/facts.js';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import type { Session } from '../../src/model/model.js';
import type { CaptureStore } from '../../src/store/read.js';
import { clockTime, duration } from '../../src/cli/format.js';
import { actionFor } from '../keymap.js';
import { color } from '../theme.js';
import { JsonLine, jsonLines } from './json.js';
import { wireLines } from '../../src/analysis/wire-text.js';
import { roundTrips } from '../../src/analysis/round-trips.js';
import { cachingText, roundTripText } from '../../src/cli/revision-format.js';
import { useViewInput, type ViewInputRef } from '../hooks/useViewInput.js';

interface Props {
  store: CaptureStore;
  session: Session;
  seq: number;
  height: number;
  width: number;
  input: ViewInputRef;
  onJump: (seq: number) => void;
  onAction: (a: 'yank' | 'export' | 'resend' | 'curl', seq: number) => void;
}

export function DetailView({ store, session, seq, height, width, input: inputRef, onJump, onAction }: Props) {
  const m = useMemo(() => store.message(session.id, seq), [store, session.id, seq]);
  const ex = useMemo(() => (m?.exchangeId ? store.exchange(m.exchangeId) : null), [store, m?.exchangeId]);
  // Only a session that speaks 2026-07-28 or later can have multi-round-trip requests: others are not read for them.
  const trips = useMemo(() => ((session.protocolVersion ?? '') >= '2026-07-28' ? roundTrips([...store.iterateMessages(session.id)]) : new Map()), [store, session.id, session.protocolVersion]);
  // w shows the message as it went over the wire (SSE event, WebSocket frame, HTTP body) instead of its JSON.
  const [wire, setWire] = useState(false);
  const lines = useMemo(() => {
    if (!m) return [];
    // 2026-07-28: a result's caching hints, and where a multi-round-trip request stands, above the JSON.
    const facts = wire ? [] : [cachingText(m.payload), roundTripText(trips.get(m.seq))].filter((x): x is string => x != null).map((f) => `── ${f}`);
    const out = wire ? ['── on the wire (w: back to the JSON)', ...wireLines(m, ex)] : [...facts, ...jsonLines(m.payload)];
    if (m.truncated) out.push(`… truncated at --max-body (${m.size} bytes on the wire)`);
    if (ex) out.push('', ...exchangeLines(ex));
    return out;
  }, [m, ex, wire, trips]);
  const bodyHeight = Math.max(3, height - 3);
  const { scroll, setScroll, onAction: scrolled } = useScroll(lines.length, bodyHeight);

  useViewInput(inputRef, (input, key) => {
    const a = actionFor(input, key, 'detail');
    if (scrolled(a)) return true;
    if (a === 'correlated' && m?.correlatedSeq != null) {
      setScroll(0);
      onJump(m.correlatedSeq);
    } else if (a === 'raw') {
      setScroll(0);
      setWire((w) => !w);
    } else if ((a === 'yank' || a === 'export' || a === 'resend' || a === 'curl') && m) onAction(a, m.seq);
    else return false;
    return true;
  });

  if (!m) return <Text>message #{seq} is not in this session</Text>;
  const corr = m.correlatedSeq != null ? `  ·  c → #${m.correlatedSeq} (${m.kind === 'request' ? 'response' : 'request'})` : '';
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text bold>{`#${m.seq} ${m.direction === 'client->server' ? '→ client→server' : '← server→client'} ${m.kind} ${m.method ?? ''}${m.subject ? ' ' + m.subject : ''}`}</Text>
        {`  id ${m.rpcId ?? '—'}  ${clockTime(m.ts)}  ${m.channel}${m.latencyMs != null ? `  latency ${duration(m.latencyMs)}` : ''}${corr}`}
      </Text>
      {m.isError || m.decodeError ? <Text wrap="truncate-end" color={color('red')}>{m.decodeError ? decodeErrorText(m.decodeError) : (m.kind === 'error' ? `JSON-RPC error ${m.errorCode}` : 'tool result with isError: true')}</Text> : <Text> </Text>}
      {lines.slice(scroll, scroll + bodyHeight).map((l, i) => <JsonLine key={scroll + i} line={l} width={width} />)}
    </Box>
  );
}
