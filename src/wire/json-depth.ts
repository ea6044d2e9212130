/**
 * JSON as deep as a peer sent it. JSON.parse copes with any depth, but JSON.stringify and every recursive
 * walk overflow the stack near 5,000 levels, and a recorded `tools/call` may be nested far deeper. Viewers
 * parse payloads here: what lies deeper than VIEW_DEPTH is replaced by a marker, iteratively, so nothing
 * after it recurses into the rest.
 */

/** How deep a viewer shows a value; below it, DEEPER stands in. */
export const VIEW_DEPTH = 64;
export const DEEPER = '…(nested deeper)';
/** Deeper than this, JSON.stringify is not trusted with a value (it overflows near 5,000 on Node 20). */
export const STRINGIFY_DEPTH = 1000;

/** The deepest nesting of arrays and objects in JSON text (strings skipped), without parsing it. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** The value with everything below `max` levels replaced by DEEPER; shallow values come back as they are. */
export function capDepth(value: unknown, max = VIEW_DEPTH): unknown {
  if (value === null || typeof value !== 'object') return value;
  const root: { v: unknown } = { v: value };
  // Each entry: a container already copied, and the original it was copied from, at its depth.
  const stack: Array<{ copy: Record<string, unknown> | unknown[]; from: Record<string, unknown> | unknown[]; depth: number }> = [];
  const copyOf = (v: object): Record<string, unknown> | unknown[] => (Array.isArray(v) ? new Array(v.length) : {});
  const topCopy = copyOf(value);
  root.v = topCopy;
  stack.push({ copy: topCopy, from: value as Record<string, unknown>, depth: 1 });
  while (stack.length) {
    const { copy, from, depth } = stack.pop()!;
    for (const k of Object.keys(from)) {
      const child = (from as Record<string, unknown>)[k];
      let out: unknown = child;
      if (child !== null && typeof child === 'object') {
        if (depth >= max) out = DEEPER;
        else {
          const c = copyOf(child);
          stack.push({ copy: c, from: child as Record<string, unknown>, depth: depth + 1 });
          out = c;
        }
      }
      (copy as Record<string, unknown>)[k] = out;
    }
  }
  return root.v;
}

/** JSON.parse for viewers: a value no walk can overflow on. Throws as JSON.parse does. */
export function parseForView(text: string): unknown {
  const v = JSON.parse(text) as unknown;
  return text.length > VIEW_DEPTH * 2 && jsonDepth(text) > VIEW_DEPTH ? capDepth(v) : v;
}

/** JSON.stringify that never overflows: a value too deep for it is shown capped. */
export function stringifyForView(value: unknown, space?: number): string {
  try {
    return JSON.stringify(value, null, space) ?? 'undefined';
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return JSON.stringify(capDepth(value), null, space);
  }
}
