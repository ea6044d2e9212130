import { useCallback, useEffect, useState } from 'react';

/** The first visible row that keeps `selected` in a window of `height` rows over `count` rows. */
export function windowStart(selected: number, prevStart: number, count: number, height: number): number {
  if (count <= height) return 0;
  let start = prevStart;
  if (selected < start) start = selected;
  if (selected >= start + height) start = selected - height + 1;
  return Math.max(0, Math.min(start, count - height));
}

const clamp = (i: number, count: number) => Math.max(0, Math.min(i, count - 1));

/**
 * A selection and a visible window over a list that may be far longer than the screen. Updates are
 * functional, so keys that arrive faster than renders (a paste, tmux send-keys) all count.
 */
export function useWindowedList(count: number, height: number, initial = 0) {
  const [state, setState] = useState(() => {
    const selected = clamp(initial, count);
    return { selected, start: windowStart(selected, Math.max(0, selected - height + 1), count, height) };
  });
  const update = useCallback((f: (selected: number) => number) => {
    setState((s) => {
      const selected = clamp(f(s.selected), count);
      return { selected, start: windowStart(selected, s.start, count, height) };
    });
  }, [count, height]);
  useEffect(() => update((s) => s), [count, height]);
  const selected = clamp(state.selected, count);
  const start = windowStart(selected, state.start, count, height);
  return {
    selected,
    start,
    end: Math.min(count, start + height),
    setSelected: (i: number) => update(() => i),
    move: (delta: number) => update((s) => s + delta),
  };
}
