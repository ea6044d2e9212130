import React from 'react';
import { Box, Text } from 'ink';
import type { Session } from '../../src/capture/model.js';
import { pad } from '../../src/cli/format.js';
import { color } from '../theme.js';
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
}

export function SessionsView({ sessions, selected, start, end, width, referenceId, connect }: Props) {
  const now = Date.now();
  const peersW = Math.max(16, width - 70);
  if (!sessions.length) {
    return connect
      ? <Text>{`No sessions yet. Point a client at the proxy and they appear here live:\n\n  ${connect}`}</Text>
      : <Text>No sessions yet. Start `mcptap proxy --target URL` and point a client at it; they appear here live.</Text>;
  }
  return (
    <Box flexDirection="column">
      <Text bold>{`  ${pad('ID', 12)} ${pad('LABEL', 10)} ${pad('TRANSPORT', 15)} ${pad('CLIENT → SERVER', peersW)} ${'MSGS'.padStart(6)} ${'ERR'.padStart(4)} ${'AGE'.padStart(4)}`}</Text>
      {sessions.slice(start, end).map((s, i) => {
        const idx = start + i;
        const live = s.endedAt == null;
        const via = describeGateway(s.gateway);
        const peers = s.transport === 'http' ? s.target : via ? `${s.clientInfo?.name ?? '?'} ${via}` : `${s.clientInfo?.name ?? '?'} → ${s.serverInfo?.name ?? '?'}`;
        const mark = s.id === referenceId ? 'R' : live ? '●' : ' ';
        const line = `${mark} ${pad(s.id, 12)} ${pad(s.label ?? '', 10)} ${pad(s.transport, 15)} ${pad(peers, peersW)} ${String(s.messageCount).padStart(6)} ${String(s.errorCount).padStart(4)} ${age(s.startedAt, now).padStart(4)}`;
        return (
          <Text key={s.id} inverse={idx === selected} color={s.errorCount ? color('red') : live ? color('green') : undefined}>
            {pad(line, width)}
          </Text>
        );
      })}
    </Box>
  );
}
