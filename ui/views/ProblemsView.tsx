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
  /** Opens an exchange: the evidence of a finding about HTTP (a 401, a refused stream) may hold no message. */
  onOpenExchange: (exchangeId: string) => void;
}

/** The rows `text` takes wrapped at word boundaries in `width` columns, as Ink wraps it. */
export function wrappedRows(text: string, width: number): number {
  const w = Math.max(1, width);
  let rows = 0;
  for (const para of text.split('\n')) {
    rows++;
    let col = 0;
    for (const word of para.split(' ')) {
      const len = [...word].length;
      const need = col === 0 ? len : col + 1 + len;
      if (need <= w) col = need;
      else if (col === 0 || len > w) {
        // A word longer than the line is cut across rows.
        const total = col === 0 ? len : col + 1 + len;
        rows += Math.ceil(total / w) - 1;
        col = total % w || w;
      } else {
        rows++;
        col = len;
      }
    }
  }
  return rows;
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

export function ProblemsView({ findings, height, width, input: inputRef, onOpen, onOpenExchange }: Props) {
  const [expanded, setExpanded] = useState<Set<number>>(() => new Set());
  const all = rowsFor(findings, expanded);
  const folded = findings.reduce((n, f) => n + (f.caused?.length ?? 0), 0);
  // The explanation and the fix are read whole: wrapped, in up to half the screen, the list in the rest.
  const most = findings.flatMap((f) => [f, ...(f.caused ?? [])]).reduce((n, f) => Math.max(n, wrappedRows(f.explanation, width) + wrappedRows(`fix: ${f.fix}`, width) + 1), 3);
  const detail = Math.min(most, Math.max(3, Math.floor((height - 2) / 2)));
  const rows = Math.max(3, height - detail - 2);
  const list = useWindowedList(all.length, rows);
  const row = all[list.selected];
  const sel = row?.finding;
  // Enter on a cause with consequences folds them out under it; on an open one, or any other row, it jumps to the evidence.
  const open = () => {
    if (!row) return;
    if (!row.consequence && row.finding.caused?.length && !expanded.has(row.root)) return setExpanded(new Set(expanded).add(row.root));
    const ev = row.finding.evidence;
    if (ev.messageSeqs.length) onOpen(ev.messageSeqs[0]);
    else if (ev.exchangeIds.length) onOpenExchange(ev.exchangeIds[0]);
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
        // Lines never shrink (Ink would draw a squeezed line over the next); what does not fit is cut
        // at the bottom, and the evidence, one line, comes first so it is never the part cut.
        <Box flexDirection="column" marginTop={1} height={detail} overflow="hidden">
          <Text dimColor wrap="truncate-end">{`evidence: ${sel.evidence.messageSeqs.map((s) => '#' + s).join(' ') || sel.evidence.exchangeIds.map((e) => `exchange ${e}`).join(' ')}`}</Text>
          <Box flexShrink={0}><Text wrap="wrap">{sel.explanation}</Text></Box>
          <Box flexShrink={0}><Text wrap="wrap" color={color('green')}>{`fix: ${sel.fix}`}</Text></Box>
        </Box>
      ) : null}
    </Box>
  );
}
