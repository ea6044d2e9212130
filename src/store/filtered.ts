import { matches, parseFilter } from '../analysis/filter.js';
import { UsageError } from '../errors.js';
import type { CaptureStore } from './read.js';

/**
 * The seqs of a session's messages that the timeline's filter language keeps (`tool:query kind:error`),
 * or null when the filter is empty. A filter that does not parse is a usage error naming the term.
 */
export function filteredSeqs(store: CaptureStore, sessionId: string, filter: string | undefined): Set<number> | null {
  if (!filter || !filter.trim()) return null;
  const parsed = parseFilter(filter);
  if (parsed.errors.length) throw new UsageError(`--filter: ${parsed.errors[0]}`);
  const hits = new Map<string, Set<number>>();
  for (const t of parsed.terms) {
    if (t.field === 'text' && !hits.has(t.value)) hits.set(t.value, new Set(store.seqsContaining(sessionId, t.value)));
  }
  return new Set(store.filterRows(sessionId).filter((r) => matches(r, parsed.terms, hits)).map((r) => r.seq));
}
