// Every answer `mcptap mcp` gives is bounded, so that one call cannot flood the asking model's context:
// lists are paged (a `more` cursor names where the next page starts), a page stops at a byte cap, and
// a long string inside an item is cut with its size said.

/** Default and largest byte cap of one answer (its JSON text). */
export const DEFAULT_MAX_BYTES = 20_000;
export const MAX_MAX_BYTES = 200_000;
/** A single string longer than this inside an item is cut (payloads, result texts). */
export const STRING_CAP = 2_000;

export interface Page<T> {
  items: T[];
  /** Give this as `cursor` to get the next page; null when there is none. */
  more: string | null;
  /** Items left out of this page because of the byte cap (they are on the next page). */
  cutByBytes?: true;
}

/** Strings longer than `cap` cut, with the original length said; depth-limited so nothing recurses without end. */
export function capStrings(v: unknown, cap = STRING_CAP, depth = 0): unknown {
  if (typeof v === 'string') return v.length > cap ? `${v.slice(0, cap)}… [cut by mcptap mcp: ${v.length} characters in all]` : v;
  if (depth > 40 || v == null || typeof v !== 'object') return depth > 40 ? '[nested too deep]' : v;
  if (Array.isArray(v)) return v.map((x) => capStrings(x, cap, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = capStrings(x, cap, depth + 1);
  return out;
}

/**
 * As many of `items` as fit in `maxBytes` (at least one, cut to fit), then `more` = the cursor of the
 * first left out; `envelope` is the rest of the answer, counted against the cap. `nextCursor` is the cursor of the item after the last one of `items` when more exist
 * beyond them (the caller read one page of a longer list).
 */
export function fitPage<T>(items: T[], maxBytes: number, cursorOf: (item: T) => string, nextCursor: string | null, envelope: unknown = null): Page<T> {
  const out: T[] = [];
  // What the answer holds beside the items (the session, the cursor, the flags).
  let used = 100 + (envelope == null ? 0 : Buffer.byteLength(JSON.stringify(envelope), 'utf8'));
  for (const [i, it] of items.entries()) {
    const size = Buffer.byteLength(JSON.stringify(it), 'utf8') + 1;
    if (out.length && used + size > maxBytes) return { items: out, more: cursorOf(items[i]), cutByBytes: true };
    if (!out.length && size > maxBytes) {
      // One item bigger than the cap on its own: its strings cut harder until it fits.
      let cap = STRING_CAP;
      let cut = it;
      while (cap > 50 && Buffer.byteLength(JSON.stringify(cut), 'utf8') > maxBytes) {
        cap = Math.floor(cap / 2);
        cut = capStrings(it, cap) as T;
      }
      out.push(cut);
      used += Buffer.byteLength(JSON.stringify(cut), 'utf8') + 1;
      continue;
    }
    out.push(it);
    used += size;
  }
  return { items: out, more: nextCursor };
}
