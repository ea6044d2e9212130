import React from 'react';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import { pad } from '../../src/cli/format.js';
import { BINDINGS, keyName } from '../keymap.js';

/** Every binding; in two columns when one does not fit the screen. */
export function HelpView({ height, width }: { height: number; width: number }) {
  const lines = BINDINGS.map((b) => `${b.keys.map(keyName).join(' / ').padEnd(14)} ${b.help.split(' (')[0]}${b.screens === 'all' ? '' : ` [${b.screens.join(',')}]`}`);
  const cols = lines.length + 2 > height ? 2 : 1;
  const perCol = Math.ceil(lines.length / cols);
  const colW = Math.floor((width - 2) / cols);
  return (
    <Box flexDirection="column">
      <Text bold>Keys</Text>
      {Array.from({ length: perCol }, (_, r) => (
        <Text key={r} wrap="truncate-end">{Array.from({ length: cols }, (_, c) => pad(lines[c * perCol + r] ?? '', colW)).join('  ')}</Text>
      ))}
      <Text dimColor wrap="truncate-end">{'filter: method:… tool:… dir:c2s|s2c kind:error status:>=400 latency:>500ms free text, !negate; Tab completes'}</Text>
    </Box>
  );
}
