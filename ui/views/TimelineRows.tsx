import React from 'react';
import { Box, Text } from 'ink';
import type { TimelineRow } from '../../src/store/read.js';
import { bytes, duration, pad } from '../../src/cli/format.js';
import { color } from '../theme.js';

function rel(ms: number): string {
  if (ms < 1000) return `+${ms.toFixed(0)}ms`;
  if (ms < 60_000) return `+${(ms / 1000).toFixed(2)}s`;
  return `+${Math.floor(ms / 60_000)}m${Math.floor((ms % 60_000) / 1000)}s`;
}

export function status(r: TimelineRow): string {
  if (r.kind === 'error') return `err ${r.errorCode ?? ''}`.trim();
  if (r.isError) return 'isError';
  if (r.kind === 'invalid' || r.kind === 'non-json') return r.kind;
  if (r.httpStatus != null && r.httpStatus >= 400) return `HTTP ${r.httpStatus}`;
  return r.kind === 'response' ? 'ok' : '';
}

interface Props {
  rows: TimelineRow[];
  selectedSeq: number | null;
  startedAt: number;
  width: number;
  /** tools/call requests a model turn caused: marked ◆. */
  caused?: Map<number, unknown>;
}

export function TimelineRows({ rows, selectedSeq, startedAt, width, caused }: Props) {
  const methodW = Math.max(14, width - 66);
  return (
    <Box flexDirection="column">
      <Text bold>{`${'#'.padStart(6)} ${pad('TIME', 9)}   ${pad('KIND', 12)} ${pad('METHOD / TOOL', methodW)} ${pad('ID', 6)} ${pad('STATUS', 10)} ${'LATENCY'.padStart(8)} ${'SIZE'.padStart(6)}`}</Text>
      {rows.map((r) => {
        const arrow = r.direction === 'client->server' ? '→' : '←';
        const name = r.method === 'tools/call' && r.subject ? `tools/call ${r.subject}` : `${r.method ?? ''}${r.subject && r.method !== 'tools/call' ? ' ' + r.subject : ''}`;
        const st = status(r);
        const bad = st && st !== 'ok';
        const line = `${caused?.has(r.seq) ? '◆' : ' '}${String(r.seq).padStart(5)} ${pad(rel(r.ts - startedAt), 9)} ${arrow} ${pad(r.kind, 12)} ${pad(name, methodW)} ${pad(r.rpcId == null ? '' : String(r.rpcId), 6)} ${pad(st, 10)} ${duration(r.kind === 'request' ? null : r.latencyMs).padStart(8)} ${bytes(r.size).padStart(6)}`;
        return (
          <Text key={r.seq} inverse={r.seq === selectedSeq} color={bad ? color('red') : r.direction === 'server->client' ? color('cyan') : undefined}>
            {pad(line, width)}
          </Text>
        );
      })}
    </Box>
  );
}
