import { useMemo } from 'react';
import type { CaptureStore } from '../../src/store/read.js';

/** All sessions, newest last, re-read when the database changes. */
export function useSessions(store: CaptureStore, version: number) {
  return useMemo(() => store.listSessions(), [store, version]);
}

/** Each session's traffic span (first and last message, open connections), for live marks and lengths. */
export function useSpans(store: CaptureStore, version: number) {
  return useMemo(() => store.spans(), [store, version]);
}
