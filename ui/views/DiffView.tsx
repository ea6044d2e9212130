import React, { useMemo } from 'react';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import type { DiffReport } from '../../src/analysis/diff.js';
import { describeOutcome } from '../../src/analysis/diff.js';
import { pad } from '../../src/cli/format.js';
import { actionFor } from '../keymap.js';
import { useWindowedList } from '../hooks/useWindowedList.js';
import { color } from '../theme.js';
import { useViewInput, type ViewInputRef } from '../hooks/useViewInput.js';

interface Props {
  report: DiffReport;
  height: number;
  width: number;
  input: ViewInputRef;
  onOpen: (seq: number) => void;
}

const MARK = { same: ' ', changed: '~', added: '+', removed: '-' } as const;
const TINT = { same: undefined, changed: 'yellow', added: 'green', removed: 'red' } as const;

export function DiffView({ report, height, width, input: inputRef, onOpen }: Props) {
  const pairs = report.pairs;
  const head: string[] = [];
  if (report.tools.pattern) head.push(`tools: ${report.tools.pattern}`);
  for (const o of report.outcomes.slice(0, 2)) head.push(`outcome: ${o.label}: ${describeOutcome(o.a)} → ${describeOutcome(o.b)}`);
  for (const h of report.handshake.slice(0, 1)) head.push(`handshake: ${h.field}: ${JSON.stringify(h.a)} → ${JSON.stringify(h.b)}`);
  // The verdict counts HTTP differences; say which (the first few, the rest counted).
  const shownHttp = report.http.slice(0, report.http.length > 3 ? 2 : 3);
  for (const h of shownHttp) head.push(`http: ${h.what}: A ${h.a}× · B ${h.b}×`);
  if (report.http.length > shownHttp.length) head.push(`http: … and ${report.http.length - shownHttp.length} more (mcptap diff ${report.a.id} ${report.b.id})`);
  const detailHeight = 5;
  const listHeight = Math.max(3, height - 3 - head.length - detailHeight);
  const list = useWindowedList(pairs.length, listHeight);
  const sel = pairs[list.selected];
  const col = Math.floor((width - 4) / 2);
  const label = (m: DiffReport['pairs'][number]['a']) =>
    m ? `#${m.seq} ${m.direction === 'client->server' ? '→' : '←'} ${m.kind} ${m.method ?? ''}${m.subject ? ' ' + m.subject : ''}` : '';
  const paths = useMemo(() => (sel ? [...sel.paths, ...(sel.response?.paths ?? []).map((p) => ({ ...p, path: 'response ' + p.path }))] : []), [sel]);

  useViewInput(inputRef, (input, key) => {
    const a = actionFor(input, key, 'diff');
    if (a === 'up') list.move(-1);
    else if (a === 'down') list.move(1);
    else if (a === 'pageUp') list.move(-listHeight);
    else if (a === 'pageDown') list.move(listHeight);
    else if (a === 'top') list.setSelected(0);
    else if (a === 'bottom') list.setSelected(pairs.length - 1);
    else if (a === 'open' && sel?.b) onOpen(sel.b.seq);
    else return false;
    return true;
  });

  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end" color={report.equivalent ? color('green') : color('yellow')}>{report.verdict}</Text>
      {head.map((h, i) => <Text key={i} wrap="truncate-end">{h}</Text>)}
      <Text bold>{`  ${pad(`A ${report.a.id}${report.a.label ? ` (${report.a.label})` : ''}`, col)}  ${pad(`B ${report.b.id}${report.b.label ? ` (${report.b.label})` : ''}`, col)}`}</Text>
      {pairs.slice(list.start, list.end).map((p, i) => (
        <Text key={list.start + i} inverse={list.start + i === list.selected} color={color(TINT[p.status] ?? 'white')}>
          {`${MARK[p.status]} ${pad(label(p.a), col)}  ${pad(label(p.b), col)}`}
        </Text>
      ))}
      <Text bold>{sel ? `differences of the selected pair (${sel.status})` : ''}</Text>
      {paths.slice(0, detailHeight - 1).map((p, i) => (
        <Text key={i}>{pad(`  ${p.path}: ${p.change === 'changed' ? `${JSON.stringify(p.a)} → ${JSON.stringify(p.b)}` : p.change === 'added' ? `only in B ${JSON.stringify(p.b)}` : `only in A ${JSON.stringify(p.a)}`}`, width)}</Text>
      ))}
      {sel && !paths.length ? <Text dimColor>  none</Text> : null}
    </Box>
  );
}
