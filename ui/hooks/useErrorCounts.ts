import { useEffect, useMemo, useState } from 'react';
import type { Session } from '../../src/model/model.js';
import type { CaptureStore } from '../../src/store/read.js';
import { errorCountsOf } from '../../src/analysis/checks/error-count.js';

/** Time a render may spend on checks; rows left over are checked in the next turns. */
const CHECK_BUDGET_MS = 30;

/**
 * The sessions list's ERR: what `mcptap check` counts for each shown session (error root causes). Only the
 * rows on screen are checked, each again only when its traffic changed (src/analysis/checks/error-count.ts);
 * a count held back because its session is costly to check is brought up to date when its turn comes.
 */
export function useErrorCounts(store: CaptureStore, shown: Session[], version: number, on: boolean): Map<string, number> {
  const [tick, setTick] = useState(0);
  const key = shown.map((s) => s.id).join(',');
  const { errors, staleFor } = useMemo(() => (on ? errorCountsOf(store).counts(shown, CHECK_BUDGET_MS) : { errors: new Map<string, number>(), staleFor: null }), [store, key, version, on, tick]);
  useEffect(() => {
    if (staleFor == null) return;
    const t = setTimeout(() => setTick((x) => x + 1), Math.max(50, staleFor));
    return () => clearTimeout(t);
  }, [staleFor, tick]);
  return errors;
}
