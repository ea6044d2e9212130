import v8 from 'node:v8';

/**
 * Node flags the `mcptap` command starts with (its first line passes them: `env -S node …`). A
 * young generation capped at 2 MB per semi-space: decoding a fast stream allocates hundreds of MB/s
 * of short-lived strings, and V8's default lets the young generation grow to 48 MB for them. The
 * bench starts its proxies with the same flags.
 */
export const NODE_FLAGS = ['--max-semi-space-size=2'];

let tuned = false;

/**
 * What can still be set once running: grow the old generation by 20% between full GCs rather than
 * V8's up-to-4×, so garbage promoted under a long stream is collected before it becomes RSS. The
 * cost is more frequent full GCs of a heap that holds little (ended sessions are not kept).
 */
export function tuneHeapForStreaming(): void {
  if (tuned) return;
  tuned = true;
  v8.setFlagsFromString('--heap-growing-percent=20');
}
