import { useState } from 'react';
import type { Action } from '../keymap.js';

/** A scroll position over `count` lines shown `height` at a time, moved by the list keys. */
export function useScroll(count: number, height: number) {
  const [scroll, setScroll] = useState(0);
  const last = Math.max(0, count - height);
  /** True when the action was a scroll key. */
  const onAction = (a: Action | null): boolean => {
    const to = { down: (s: number) => s + 1, up: (s: number) => s - 1, pageDown: (s: number) => s + height, pageUp: (s: number) => s - height, top: () => 0, bottom: () => last } as Partial<Record<Action, (s: number) => number>>;
    const f = a && to[a];
    if (!f) return false;
    setScroll((s) => Math.max(0, Math.min(last, f(s))));
    return true;
  };
  return { scroll: Math.min(scroll, last), setScroll, onAction };
}
