import React from 'react';
import { Text } from '../safe-text.js';
import { color } from '../theme.js';
import { terminalLine } from '../../src/model/terminal.js';

/** Pretty JSON as coloured lines (keys, strings, numbers, literals). */
export function jsonLines(text: string): string[] {
  try {
    return JSON.stringify(JSON.parse(text), null, 2).split('\n').map(terminalLine);
  } catch {
    // Not JSON, or too deep for JSON.stringify: the text as stored.
    return text.split('\n').map(terminalLine);
  }
}

const TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b/g;

export function JsonLine({ line, width }: { line: string; width: number }) {
  const cut = line.length > width ? line.slice(0, width - 1) + '…' : line;
  const parts: React.ReactNode[] = [];
  let last = 0;
  let m: RegExpExecArray | null;
  TOKEN.lastIndex = 0;
  while ((m = TOKEN.exec(cut))) {
    if (m.index > last) parts.push(cut.slice(last, m.index));
    const c = m[2] ? 'cyan' : m[1] ? 'green' : m[3] ? 'yellow' : 'magenta';
    parts.push(<Text key={m.index} color={color(c)}>{m[0]}</Text>);
    last = m.index + m[0].length;
  }
  if (last < cut.length) parts.push(cut.slice(last));
  return <Text>{parts}</Text>;
}
