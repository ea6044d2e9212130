import React, { useMemo } from 'react';
import { Box } from 'ink';
import { Text } from '../safe-text.js';
import type { CaptureStore } from '../../src/store/read.js';
import { actionFor } from '../keymap.js';
import { useScroll } from '../hooks/useScroll.js';
import { useViewInput, type ViewInputRef } from '../hooks/useViewInput.js';
import { JsonLine } from './json.js';
import { exchangeFindings, exchangeLines, findingLines } from './exchange-lines.js';
import type { Session } from '../../src/model/model.js';

interface Props {
  store: CaptureStore;
  session: Session;
  exchangeId: string;
  version: number;
  height: number;
  width: number;
  input: ViewInputRef;
}

/** One HTTP exchange that carried no JSON-RPC message: request and answer, timing, headers, a refusal's body. */
export function ExchangeView({ store, session, exchangeId, version, height, width, input: inputRef }: Props) {
  const ex = useMemo(() => store.exchange(exchangeId), [store, exchangeId, version]);
  // The root cause check names for it, above it: what the row's FAILURE column cut short.
  const finding = useMemo(() => exchangeFindings(store, session).get(exchangeId), [store, session, exchangeId, version]);
  const lines = useMemo(() => (ex ? [...findingLines(finding), ...exchangeLines(ex)] : []), [ex, finding]);
  const bodyHeight = Math.max(3, height - 1);
  const { scroll, onAction } = useScroll(lines.length, bodyHeight);
  useViewInput(inputRef, (input, key) => onAction(actionFor(input, key, 'exchange')));
  if (!ex) return <Text>{`exchange ${exchangeId} is not in the database`}</Text>;
  return (
    <Box flexDirection="column">
      {lines.slice(scroll, scroll + bodyHeight).map((l, i) => <JsonLine key={scroll + i} line={l} width={width} />)}
    </Box>
  );
}
