import React from 'react';
import { Box, Text } from 'ink';
import type { HeldMessage } from '../../src/proxy/intercept.js';
import { pad } from '../../src/cli/format.js';
import { actionFor } from '../keymap.js';
import { useWindowedList } from '../hooks/useWindowedList.js';
import { color } from '../theme.js';
import { useViewInput, type ViewInputRef } from '../hooks/useViewInput.js';

/**
 * The MCP TypeScript SDK's default request timeout: a held request older than this has most likely been
 * given up on by its client (Claude Code's own limit may be longer; the wire does not say).
 */
export const CLIENT_TIMEOUT_MS = 60_000;

const VIA: Record<HeldMessage['via'], string> = { post: 'POST', event: 'SSE event', 'json-answer': 'JSON', websocket: 'WS frame' };

interface Props {
  held: HeldMessage[];
  filter: string;
  now: number;
  height: number;
  width: number;
  input: ViewInputRef;
  onDecide: (action: 'forward' | 'editHeld' | 'answerHeld' | 'drop', m: HeldMessage) => void | Promise<void>;
}

/** What `--hold` holds, oldest first, each with how long it has waited against the client's timeout. */
export function HeldView({ held, filter, now, height, width, input: inputRef, onDecide }: Props) {
  const list = useWindowedList(held.length, Math.max(3, height - 4));
  const selected = held[list.selected];
  useViewInput(inputRef, (input, key) => {
    const a = actionFor(input, key, 'held');
    if (a === 'up') list.move(-1);
    else if (a === 'down') list.move(1);
    else if (a === 'top') list.setSelected(0);
    else if (a === 'bottom') list.setSelected(held.length - 1);
    else if ((a === 'forward' || a === 'editHeld' || a === 'answerHeld' || a === 'drop') && selected) void onDecide(a, selected);
    else return false;
    return true;
  });
  if (!held.length) return <Text>{`Nothing held. ${/(^|\s)dir:s2c(\s|$)/.test(filter) ? 'Server' : 'Client'} messages that match "${filter}" stop here until you forward, edit, ${/(^|\s)dir:s2c(\s|$)/.test(filter) ? '' : 'answer '}or drop them.`}</Text>;
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">{`${held.length} held (matching "${filter}") — f forward · e edit · a answer · x drop`}</Text>
      {held.slice(list.start, list.end).map((h, i) => {
        const waited = now - h.heldAt;
        const left = Math.ceil((CLIENT_TIMEOUT_MS - waited) / 1000);
        const clock = left > 0 ? `${Math.floor(waited / 1000)}s held, ~${left}s before a 60s client timeout` : `${Math.floor(waited / 1000)}s held: past a 60s client timeout`;
        const line = `#${h.id} ${h.direction === 'client->server' ? '→' : '←'} ${pad(`${h.method ?? '?'}${h.subject ? ' ' + h.subject : ''}`, 32)} ${pad(VIA[h.via], 9)} ${pad(h.route ? `→ ${h.route}` : '', 14)} ${clock}`;
        return (
          <Text key={h.id} wrap="truncate-end" inverse={list.start + i === list.selected} color={left > 0 ? undefined : color('red')}>
            {pad(line, width)}
          </Text>
        );
      })}
      {selected ? <Text dimColor wrap="truncate-end">{pad(selected.body.replace(/\s+/g, ' '), width)}</Text> : null}
      {selected?.noAnswer ? <Text dimColor wrap="truncate-end">{`no a: it ${selected.noAnswer}`}</Text> : null}
    </Box>
  );
}
