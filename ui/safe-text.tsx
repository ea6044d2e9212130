import React from 'react';
import { Text as InkText } from 'ink';
import { terminalSafe } from '../src/model/terminal.js';

/**
 * Ink's Text with every string child escaped for the terminal (src/model/terminal.ts): the TUI shows
 * names, subjects and payloads a peer chose, and a control character in them would reach the terminal.
 * Views import Text from here, never from ink.
 */
export function Text(props: React.ComponentProps<typeof InkText>) {
  return <InkText {...props}>{safeChildren(props.children)}</InkText>;
}

function safeChildren(children: React.ReactNode): React.ReactNode {
  if (typeof children === 'string') return terminalSafe(children);
  if (Array.isArray(children)) return children.map((c: React.ReactNode) => (typeof c === 'string' ? terminalSafe(c) : c));
  return children;
}
