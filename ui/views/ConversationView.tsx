import React, { useMemo, useState } from 'react';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import { TurnReader, type ConversationTurn } from '../../src/store/turns-read.js';
import { ContextCostReader } from '../../src/store/context-read.js';
import { contextCostLine } from '../../src/cli/conversation-format.js';
import { serverCostLines } from '../../src/analysis/context-cost.js';
import { clockTime, duration, pad } from '../../src/cli/format.js';
import { actionFor } from '../keymap.js';
import { useWindowedList } from '../hooks/useWindowedList.js';
import { useViewInput, type SessionViewProps } from '../hooks/useViewInput.js';
import { color } from '../theme.js';

interface Props extends SessionViewProps {
  /** Enter on a linked tool use: that MCP call in its session's timeline. */
  onJump: (sessionId: string, seq: number) => void;
  onAction: (a: 'problems' | 'export', seq: null) => void;
}

const one = (s: string, w: number) => pad(s.replace(/\s+/g, ' ').trim(), w);

function turnLine(t: ConversationTurn, w: number): string {
  const uses = t.toolUses.length ? `${t.toolUses.length}⚙${t.toolUses.some((u) => !u.mcpCall && (u.kind === 'tool_use' || u.kind === 'function_call')) ? '!' : ''}` : '';
  return pad(`${String(t.seq).padStart(4)} ${clockTime(t.ts).slice(0, 8)} ${pad(t.stopReason ?? (t.error ? 'error' : ''), 9)} ${pad(uses, 4)} ${t.model ?? ''}`, w);
}

/**
 * A model conversation: turns down the left; on the right the selected turn's tool uses, each with the
 * MCP call it caused and that call's answer, and the results the turn carried back to the model.
 */
export function ConversationView({ store, session, version, height, width, input, onJump, onAction }: Props) {
  const { turns, costs } = useMemo(() => {
    const reader = new TurnReader(store);
    const t = reader.conversation(session).turns;
    return { turns: t, costs: new ContextCostReader(reader).costs(t) };
  }, [store, session.id, version]);
  const list = useWindowedList(turns.length, Math.max(3, height - 2), turns.length - 1);
  const [use, setUse] = useState(0);
  const turn = turns[list.selected];
  const selectedUse = turn?.toolUses[Math.min(use, Math.max(0, (turn?.toolUses.length ?? 1) - 1))];

  useViewInput(input, (inp, key) => {
    const a = actionFor(inp, key, 'timeline');
    if (a === 'up' || a === 'down' || a === 'pageUp' || a === 'pageDown' || a === 'top' || a === 'bottom') {
      const step = { up: -1, down: 1, pageUp: -(height - 2), pageDown: height - 2, top: -Infinity, bottom: Infinity }[a];
      if (step === -Infinity) list.setSelected(0);
      else if (step === Infinity) list.setSelected(turns.length - 1);
      else list.move(step);
      setUse(0);
      return true;
    }
    if (a === 'nextUse' && turn?.toolUses.length) {
      setUse((u) => (u + 1) % turn.toolUses.length);
      return true;
    }
    if (a === 'problems' || a === 'export') {
      onAction(a, null);
      return true;
    }
    if (a === 'open' && selectedUse?.mcpCall) {
      onJump(selectedUse.mcpCall.session, selectedUse.mcpCall.seq);
      return true;
    }
    return false;
  });

  const leftW = Math.min(44, Math.floor(width * 0.4));
  const rightW = width - leftW - 3;
  const right: Array<{ text: string; tone?: string; inverse?: boolean }> = [];
  if (turn) {
    right.push({ text: `turn ${turn.seq} · ${turn.api} · ${turn.model ?? '?'} · ${turn.stream ? 'streamed' : 'json'} · ${duration(turn.endedAt && turn.endedAt - turn.ts)} · ${turn.toolsOffered.length} tools offered` });
    if (turn.usage) right.push({ text: `usage ${Object.entries(turn.usage).map(([k, v]) => `${k} ${v}`).join(', ')}` });
    const cost = costs[list.selected];
    // What the request spent its context on: the MCP servers' tool definitions, each on its own line.
    if (cost?.requestBytes) {
      right.push({ text: contextCostLine(cost), tone: cost.mcpShare > 0.2 ? 'yellow' : undefined });
      for (const l of serverCostLines(cost, 'this request')) right.push({ text: `  ${l} (tokens estimated)` });
    }
    if (turn.error) right.push({ text: `error ${turn.error.status ?? ''} ${turn.error.type}: ${turn.error.message}`, tone: 'red' });
    for (const r of turn.toolResults) right.push({ text: `↩ result for ${r.toolUseId}${r.isError ? ' (is_error)' : ''}: ${r.text}`, tone: r.isError ? 'red' : undefined });
    turn.toolUses.forEach((u) => {
      const mine = u === selectedUse;
      right.push({ text: `⚙ ${u.name} ${JSON.stringify(u.input ?? {})}`, inverse: mine });
      if (u.kind !== 'tool_use' && u.kind !== 'function_call') right.push({ text: `    run by the API itself (${u.kind})` });
      else if (!u.mcpCall) right.push({ text: '    no MCP call was sent (see mcptap check)', tone: 'red' });
      else {
        right.push({ text: `    → MCP ${u.mcpCall.session}:${u.mcpCall.seq}  linked by ${u.linkedBy === 'tool-use-id' ? 'tool-use id' : 'name, arguments, time'}${mine ? '  (Enter: open it)' : ''}`, tone: 'cyan' });
        right.push({ text: `    ← ${u.result ? `${u.result.isError ? 'isError: ' : ''}${u.result.text}` : 'no answer'}`, tone: u.result?.isError ? 'red' : undefined });
      }
    });
    if (turn.text && !turn.toolUses.length) right.push({ text: `“${turn.text}”` });
  }
  const uses = turns.reduce((n, t) => n + t.toolUses.length, 0);
  const linked = turns.reduce((n, t) => n + t.toolUses.filter((u) => u.mcpCall).length, 0);
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text bold>{`conversation ${session.id}`}</Text>
        {` · ${turns.length} turns · ${uses} tool uses, ${linked} linked · ${session.clientInfo?.name ?? '?'}${session.mcpSessionId ? ` · id ${session.mcpSessionId}` : ''}${session.endedAt == null ? ' · live' : ''}`}
      </Text>
      {Array.from({ length: Math.max(1, Math.min(height - 1, Math.max(list.end - list.start, right.length))) }, (_, i) => {
        const t = turns[list.start + i];
        const l = right[i];
        return (
          <Text key={i} wrap="truncate-end">
            <Text inverse={!!t && list.start + i === list.selected} color={t && (t.error || t.toolResults.some((r) => r.isError)) ? color('red') : undefined}>
              {t && list.start + i < list.end ? turnLine(t, leftW) : ' '.repeat(leftW)}
            </Text>
            <Text dimColor>{' │ '}</Text>
            <Text inverse={l?.inverse} color={l?.tone ? color(l.tone) : undefined}>{l ? one(l.text, rightW) : ''}</Text>
          </Text>
        );
      })}
    </Box>
  );
}
