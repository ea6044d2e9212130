import { useEffect, useState } from 'react';
import type { CaptureStore } from '../../src/store/read.js';

/**
 * A number that changes whenever another connection (a running proxy) commits to the database.
 * Polling `PRAGMA data_version` costs microseconds; views re-read only when it moves.
 */
export function useDataVersion(store: CaptureStore, intervalMs = 300): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let last = store.dataVersion();
    const t = setInterval(() => {
      const v = store.dataVersion();
      if (v !== last) {
        last = v;
        setVersion((x) => x + 1);
      }
    }, intervalMs);
    return () => clearInterval(t);
  }, [store, intervalMs]);
  return version;
}
