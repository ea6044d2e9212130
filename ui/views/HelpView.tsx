import React from 'react';
import { Box, Text } from 'ink';
import { BINDINGS, keyName } from '../keymap.js';

export function HelpView() {
  return (
    <Box flexDirection="column">
      <Text bold>Keys</Text>
      {BINDINGS.map((b, i) => (
        <Text key={i} wrap="truncate-end">{`  ${b.keys.map(keyName).join(' / ').padEnd(18)} ${b.help}${b.screens === 'all' ? '' : `  [${b.screens.join(', ')}]`}`}</Text>
      ))}
    </Box>
  );
}
