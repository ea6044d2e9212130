import React from 'react';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import type { TimelineRow } from '../../src/store/read.js';
import { bytes, duration, pad } from '../../src/cli/format.js';
import { color } from '../theme.js';
import type { RequestMark } from '../hooks/useRequestMarks.js';

/** Time since the session started, as the timelines show it. */
export function rel(ms: number): string {
  if (ms < 1000) return `+${ms.toFixed(0)}ms`;
  if (ms < 60_000) return `+${(ms / 1000).toFixed(2)}s`;
  return `+${Math.floor(ms / 60_000)}m${Math.floor((ms % 60_000) / 1000)}s`;
}

export function status(r: TimelineRow): string {
  if (r.kind === 'error') return `err ${r.errorCode ?? ''}`.trim();
  if (r.isError) return 'isError';
  if (r.kind === 'invalid' || r.kind === 'non-json') return r.kind;
  if (r.kind === 'log') return 'stderr';
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
  /** Requests waiting, abandoned by their client, or answered late (see useRequestMarks). */
  marks?: Map<number, RequestMark>;
  /** While live: a waiting request's latency column shows its wait so far, counted to this time. */
  now?: number;
}

const SHORT_KIND: Record<string, string> = { request: 'req', notification: 'note', response: 'resp', error: 'error', invalid: 'inval', 'non-json': 'raw' };

/**
 * Column widths for a terminal width. The method and tool are what people look for: on a narrow
 * terminal the kind is abbreviated, the id shrinks and the size goes before the method is cut.
 */
export function timelineColumns(width: number) {
  const wide = width >= 96;
  const c = { seq: wide ? 6 : 5, time: 9, kind: wide ? 12 : 5, id: wide ? 6 : 4, status: wide ? 10 : 8, latency: wide ? 8 : 7, size: wide ? 6 : 0 };
  // Spaces between columns, and the arrow with its space.
  const fixed = c.seq + c.time + 2 + c.kind + c.id + c.status + c.latency + (c.size ? c.size + 1 : 0) + 6;
  return { ...c, method: Math.max(10, width - fixed) };
}

export function TimelineRows({ rows, selectedSeq, startedAt, width, caused, marks, now }: Props) {
  const c = timelineColumns(width);
  const kind = (k: string) => (c.kind < 12 ? SHORT_KIND[k] ?? k : k);
  const size = (t: string) => (c.size ? ' ' + t.padStart(c.size) : '');
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">{`${'#'.padStart(c.seq)} ${pad('TIME', c.time)}   ${pad('KIND', c.kind)} ${pad('METHOD / TOOL', c.method)} ${pad('ID', c.id)} ${pad('STATUS', c.status)} ${'LATENCY'.slice(0, c.latency).padStart(c.latency)}${size('SIZE')}`}</Text>
      {rows.map((r) => {
        const arrow = r.direction === 'client->server' ? '→' : '←';
        const name = r.method === 'tools/call' && r.subject ? `tools/call ${r.subject}` : `${r.method ?? ''}${r.subject && r.method !== 'tools/call' ? ' ' + r.subject : ''}`;
        const mark = marks?.get(r.seq);
        const st = mark ?? status(r);
        const bad = (st && st !== 'ok' && st !== 'waiting') || undefined;
        // A request still waiting shows how long so far, growing while the session is live.
        const wait = mark === 'waiting' && now != null ? `${duration(Math.max(0, now - r.ts))}…` : null;
        const line = `${caused?.has(r.seq) ? '◆' : ' '}${String(r.seq).padStart(c.seq - 1)} ${pad(rel(r.ts - startedAt), c.time)} ${arrow} ${pad(kind(r.kind), c.kind)} ${pad(name, c.method)} ${pad(r.rpcId == null ? '' : String(r.rpcId), c.id)} ${pad(st, c.status)} ${(wait ?? duration(r.kind === 'request' ? null : r.latencyMs)).padStart(c.latency)}${size(bytes(r.size))}`;
        return (
          <Text key={r.seq} wrap="truncate-end" inverse={r.seq === selectedSeq} color={bad ? color('red') : wait ? color('yellow') : r.direction === 'server->client' ? color('cyan') : undefined}>
            {pad(line, width)}
          </Text>
        );
      })}
    </Box>
  );
}
