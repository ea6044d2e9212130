import React, { useState } from 'react';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import type { Finding } from '../../src/analysis/checks/engine.js';
import { pad } from '../../src/cli/format.js';
import { consequencesLabel, consequenceLine, times } from '../../src/analysis/checks/format.js';
import { actionFor } from '../keymap.js';
import { useWindowedList } from '../hooks/useWindowedList.js';
import { color } from '../theme.js';
import { useViewInput, type ViewInputRef } from '../hooks/useViewInput.js';

interface Props {
  findings: Finding[];
  height: number;
  width: number;
  input: ViewInputRef;
  onOpen: (seq: number) => void;
}

const TINT = { error: 'red', warning: 'yellow', info: 'blue' } as const;

/** A row of the list: a root cause (its index among them), or one of its consequences under it. */
interface Row {
  finding: Finding;
  root: number;
  consequence: boolean;
}

/** The root causes, each followed by its consequences when expanded. */
function rowsFor(findings: Finding[], expanded: Set<number>): Row[] {
  return findings.flatMap((f, root) => [
    { finding: f, root, consequence: false },
    ...(expanded.has(root) ? (f.caused ?? []).map((c) => ({ finding: c, root, consequence: true })) : []),
  ]);
}

export function ProblemsView({ findings, height, width, input: inputRef, onOpen }: Props) {
  const [expanded, setExpanded] = useState<Set<number>>(() => new Set());
  const all = rowsFor(findings, expanded);
  const folded = findings.reduce((n, f) => n + (f.caused?.length ?? 0), 0);
  // The explanation and the fix are read whole: wrapped, in up to half the screen, the list in the rest.
  const rowsOf = (t: string) => Math.max(1, Math.ceil(t.length / Math.max(1, width)));
  const most = findings.flatMap((f) => [f, ...(f.caused ?? [])]).reduce((n, f) => Math.max(n, rowsOf(f.explanation) + rowsOf(`fix: ${f.fix}`) + 1), 3);
  const detail = Math.min(most, Math.max(3, Math.floor((height - 2) / 2)));
  const rows = Math.max(3, height - detail - 2);
  const list = useWindowedList(all.length, rows);
  const row = all[list.selected];
  const sel = row?.finding;
  // Enter on a cause with consequences folds them out under it; on an open one, or any other row, it jumps to the evidence.
  const open = () => {
    if (!row) return;
    if (!row.consequence && row.finding.caused?.length && !expanded.has(row.root)) return setExpanded(new Set(expanded).add(row.root));
    if (row.finding.evidence.messageSeqs.length) onOpen(row.finding.evidence.messageSeqs[0]);
  };
  useViewInput(inputRef, (input, key) => {
    const a = actionFor(input, key, 'problems');
    if (a === 'up') list.move(-1);
    else if (a === 'down') list.move(1);
    else if (a === 'pageUp') list.move(-rows);
    else if (a === 'pageDown') list.move(rows);
    else if (a === 'top') list.setSelected(0);
    else if (a === 'bottom') list.setSelected(all.length - 1);
    else if (a === 'open') open();
    else return false;
    return true;
  });
  if (!findings.length) return <Text color={color('green')}>No problems found in this session (mcptap check).</Text>;
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">{`${findings.length} findings${folded ? ` (+${folded} consequences folded under them)` : ''} — Enter ${folded ? 'expands a cause, then ' : ''}jumps to the evidence`}</Text>
      {all.slice(list.start, list.end).map(({ finding: f, root, consequence }, i) => (
        <Text key={`${root}:${list.start + i}`} wrap="truncate-end" inverse={list.start + i === list.selected} color={color(TINT[f.severity])}>
          {pad(consequence
            ? `    ↳ ${consequenceLine(f)}`
            : `${f.severity.toUpperCase().padEnd(7)} ${f.caused?.length ? `${expanded.has(root) ? '▾' : '▸'} ${consequencesLabel(f)} ` : ''}[${f.ruleId}] ${f.title}${times(f)}`, width)}
        </Text>
      ))}
      {sel ? (
        <Box flexDirection="column" marginTop={1} height={detail} overflow="hidden">
          <Text wrap="wrap">{sel.explanation}</Text>
          <Text wrap="wrap" color={color('green')}>{`fix: ${sel.fix}`}</Text>
          <Text dimColor wrap="truncate-end">{`evidence: ${sel.evidence.messageSeqs.map((s) => '#' + s).join(' ') || sel.evidence.exchangeIds.join(' ')}`}</Text>
        </Box>
      ) : null}
    </Box>
  );
}
