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
  const detail = 4;
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
      <Text bold>{`${findings.length} findings — Enter jumps to the evidence`}</Text>
      {findings.slice(list.start, list.end).map((f, i) => (
        <Text key={list.start + i} inverse={list.start + i === list.selected} color={color(TINT[f.severity])}>
          {pad(`${f.severity.toUpperCase().padEnd(7)} [${f.ruleId}] ${f.title}`, width)}
        </Text>
      ))}
      {sel ? (
        <Box flexDirection="column" marginTop={1}>
          <Text wrap="truncate-end">{sel.explanation}</Text>
          <Text wrap="truncate-end" color={color('green')}>{`fix: ${sel.fix}`}</Text>
          <Text dimColor>{`evidence: ${sel.evidence.messageSeqs.map((s) => '#' + s).join(' ') || sel.evidence.exchangeIds.join(' ')}`}</Text>
        </Box>
      ) : null}
    </Box>
  );
}
