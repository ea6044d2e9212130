import React from 'react';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import type { Session } from '../../src/model/model.js';
import { pad, shortLabel } from '../../src/cli/format.js';
import { color } from '../theme.js';
import { isLive, type SessionSpan } from '../../src/store/liveness.js';
import { describeGateway } from '../../src/capture/gateway.js';

function age(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

interface Props {
  sessions: Session[];
  selected: number;
  start: number;
  end: number;
  width: number;
  referenceId: string | null;
  /** How to point a client at the proxy this UI runs beside. */
  connect?: string;
  spans: Map<string, SessionSpan>;
  /** ERR: each shown session's error root causes, as `mcptap check` counts them. */
  errors: Map<string, number>;
}

export function SessionsView({ sessions, selected, start, end, width, referenceId, connect, spans, errors }: Props) {
  const now = Date.now();
  // Narrow: short transport and label names, so the server (what tells sessions apart) keeps its room.
  const wide = width >= 96;
  const labelW = wide ? 10 : 8;
  const transportW = wide ? 15 : 9;
  const transport = (t: string) => (wide ? t : ({ 'streamable-http': 'http', websocket: 'ws', http: 'plain' } as Record<string, string>)[t] ?? t);
  const peersW = Math.max(16, width - (2 + 12 + 1 + labelW + 1 + transportW + 1 + 1 + 6 + 1 + 4 + 1 + 4));
  if (!sessions.length) {
    return connect
      ? <Text>{`No sessions yet. Point a client at the proxy and they appear here live:\n\n  ${connect}`}</Text>
      : <Text>No sessions yet. Start `mcptap proxy --target URL` and point a client at it; they appear here live.</Text>;
  }
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">{`  ${pad('ID', 12)} ${pad('LABEL', labelW)} ${pad('TRANSPORT', transportW)} ${pad('CLIENT → SERVER', peersW)} ${'MSGS'.padStart(6)} ${'ERR'.padStart(4)} ${'AGE'.padStart(4)}`}</Text>
      {sessions.slice(start, end).map((s, i) => {
        const idx = start + i;
        const live = isLive(s, spans.get(s.id), now);
        const via = describeGateway(s.gateway);
        const peers = s.transport === 'http' ? s.target : via ? `${s.clientInfo?.name ?? '?'} ${via}` : s.transport === 'model-api' ? `${s.clientInfo?.name ?? '?'} → model API ${s.target} (turns)` : `${s.clientInfo?.name ?? '?'} → ${s.serverInfo?.name ?? '?'}`;
        const mark = s.id === referenceId ? 'R' : live ? '●' : ' ';
        // A stateless session (2026-07-28) some of whose requests mcptap placed by guess (show says why).
        const guessed = s.grouping?.uncertain ? ' (grouping?)' : '';
        const err = errors.get(s.id);
        const line = `${mark} ${pad(s.id, 12)} ${shortLabel(s.label, labelW)} ${pad(transport(s.transport), transportW)} ${pad(peers + guessed, peersW)} ${String(s.messageCount).padStart(6)} ${String(err ?? '').padStart(4)} ${age(s.startedAt, now).padStart(4)}`;
        return (
          <Text key={s.id} wrap="truncate-end" inverse={idx === selected} color={err ? color('red') : live ? color('green') : undefined}>
            {pad(line, width)}
          </Text>
        );
      })}
    </Box>
  );
}
