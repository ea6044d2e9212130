import React, { useMemo } from 'react';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import type { Exchange } from '../../src/model/model.js';
import { exchangeTrouble } from '../../src/model/facts.js';
import { duration, pad } from '../../src/cli/format.js';
import { actionFor } from '../keymap.js';
import { useWindowedList } from '../hooks/useWindowedList.js';
import { useNow } from '../hooks/useInFlight.js';
import { color } from '../theme.js';
import { describeGateway } from '../../src/capture/gateway.js';
import { useViewInput, type SessionViewProps } from '../hooks/useViewInput.js';
import { exchangeFindings } from './exchange-lines.js';
import { rel } from './TimelineRows.js';

interface Props extends SessionViewProps {
  live: boolean;
  onOpen: (exchangeId: string) => void;
  onAction: (a: 'diff' | 'problems' | 'inflight', seq: null) => void;
}

/**
 * What went wrong with an exchange: the finding of `mcptap check` that names it, what the capture saw (the
 * client went away, the upstream refused the connection), else a refusal's body or a stream still waiting.
 */
function failure(e: Exchange, title: string | undefined, now: number): string {
  const said = [title, exchangeTrouble(e)].filter(Boolean).join('; ');
  if (said) return said;
  if (e.endedAt == null) return e.status == null ? `no answer after ${duration(now - e.startedAt)}` : `open ${duration(now - e.startedAt)}, nothing sent`;
  if (e.status != null && e.status >= 400) return (e.responseBody ?? '').split(/\r?\n/)[0].slice(0, 200) || `refused (${e.status})`;
  return '';
}


/**
 * The timeline of an MCP session that carried no JSON-RPC message: its HTTP exchanges (a legacy SSE client's
 * GET refused or left hanging by a Streamable HTTP server, a 401 before the handshake), each a row that opens.
 */
export function ExchangesView({ store, session, version, height, width, input: inputRef, live, onOpen, onAction }: Props) {
  const exchanges = useMemo(() => store.exchanges(session.id), [store, session.id, version]);
  // Without messages a check is cheap: it reads these exchanges only.
  const named = useMemo(() => exchangeFindings(store, session), [store, session, version]);
  const rowsHeight = Math.max(3, height - 2);
  const list = useWindowedList(exchanges.length, rowsHeight);
  const now = useNow(live && exchanges.some((e) => e.endedAt == null));
  useViewInput(inputRef, (input, key) => {
    const a = actionFor(input, key, 'exchanges');
    if (a === 'up' || a === 'down') list.move(a === 'up' ? -1 : 1);
    else if (a === 'pageUp' || a === 'pageDown') list.move(a === 'pageUp' ? -rowsHeight : rowsHeight);
    else if (a === 'top' || a === 'bottom') list.setSelected(a === 'top' ? 0 : exchanges.length - 1);
    else if (a === 'open' && exchanges[list.selected]) onOpen(exchanges[list.selected].id);
    else if (a === 'diff' || a === 'problems' || a === 'inflight') onAction(a, null);
    else return false;
    return true;
  });
  const c = { time: 9, method: 7, status: 6, took: 8 };
  const rest = Math.max(24, width - (c.time + c.method + c.status + c.took + 5));
  const urlW = Math.min(40, Math.max(8, Math.floor(rest / 3)));
  const failW = Math.max(8, rest - urlW);
  const head = `${pad('TIME', c.time)} ${pad('METHOD', c.method)} ${pad('URL', urlW)} ${pad('STATUS', c.status)} ${'TOOK'.padStart(c.took)} ${pad('FAILURE', failW)}`;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text bold>{`session ${session.id}`}</Text>
        {` · no messages · ${exchanges.length} HTTP exchange${exchanges.length === 1 ? '' : 's'}, none carried JSON-RPC${live ? ' · live' : ''} · ${session.transport} · ${session.clientInfo?.name ?? '?'} → ${session.serverInfo?.name ?? '?'}${session.gateway ? ` ${describeGateway(session.gateway)}` : ''}`}
      </Text>
      <Text bold wrap="truncate-end">{head}</Text>
      {exchanges.slice(list.start, list.end).map((e, i) => {
        const at = rel(Math.max(0, e.startedAt - session.startedAt));
        const took = e.endedAt == null ? `${duration(now - e.startedAt)}…` : duration(e.endedAt - e.startedAt);
        const why = failure(e, named.get(e.id)?.title, now);
        const bad = !!why || (e.status != null && e.status >= 400);
        const line = `${pad(at, c.time)} ${pad(e.method, c.method)} ${pad(e.url, urlW)} ${pad(String(e.status ?? '---'), c.status)} ${took.padStart(c.took)} ${pad(why, failW)}`;
        return (
          <Text key={e.id} wrap="truncate-end" inverse={list.start + i === list.selected} color={bad ? color('red') : undefined}>
            {pad(line, width)}
          </Text>
        );
      })}
    </Box>
  );
}
