import { performance } from 'node:perf_hooks';

const real = () => performance.timeOrigin + performance.now();
let source: () => number = real;

/** Epoch milliseconds with sub-millisecond precision, monotonic within a process. */
export function now(): number {
  return source();
}

/**
 * The capture's time comes from `fn` until the returned function is called: a test moves time on (a call
 * that "takes" 90 s) without waiting for it.
 */
export function useClock(fn: () => number): () => void {
  source = fn;
  return () => {
    source = real;
  };
}
