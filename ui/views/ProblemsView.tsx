import React from 'react';
import { Box, Text } from 'ink';
import type { Finding } from '../../src/analysis/checks/engine.js';
import { pad } from '../../src/cli/format.js';
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

export function ProblemsView({ findings, height, width, input: inputRef, onOpen }: Props) {
  // The explanation and the fix are read whole: wrapped, in up to half the screen, the list in the rest.
  const rowsOf = (t: string) => Math.max(1, Math.ceil(t.length / Math.max(1, width)));
  const most = findings.reduce((n, f) => Math.max(n, rowsOf(f.explanation) + rowsOf(`fix: ${f.fix}`) + 1), 3);
  const detail = Math.min(most, Math.max(3, Math.floor((height - 2) / 2)));
  const rows = Math.max(3, height - detail - 2);
  const list = useWindowedList(findings.length, rows);
  const sel = findings[list.selected];
  useViewInput(inputRef, (input, key) => {
    const a = actionFor(input, key, 'problems');
    if (a === 'up') list.move(-1);
    else if (a === 'down') list.move(1);
    else if (a === 'pageUp') list.move(-rows);
    else if (a === 'pageDown') list.move(rows);
    else if (a === 'top') list.setSelected(0);
    else if (a === 'bottom') list.setSelected(findings.length - 1);
    else if (a === 'open' && sel?.evidence.messageSeqs.length) onOpen(sel.evidence.messageSeqs[0]);
    else return false;
    return true;
  });
  if (!findings.length) return <Text color={color('green')}>No problems found in this session (mcptap check).</Text>;
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">{`${findings.length} findings — Enter jumps to the evidence`}</Text>
      {findings.slice(list.start, list.end).map((f, i) => (
        <Text key={list.start + i} wrap="truncate-end" inverse={list.start + i === list.selected} color={color(TINT[f.severity])}>
          {pad(`${f.severity.toUpperCase().padEnd(7)} [${f.ruleId}] ${f.title}`, width)}
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
