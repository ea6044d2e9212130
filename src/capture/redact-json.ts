/**
 * The pieces of a JSON text that scrub() (redact-text.ts) would hand to its handlers, found without its
 * SCAN pattern. In a valid JSON text SCAN can only match at the opening quote of a string: between
 * strings there are only brackets, commas, colons, JSON whitespace, numbers and `true`/`false`/`null`,
 * on which none of its alternatives can start. At a quote it matches a key with its value when the value
 * is a string, a number or literal, or a non-empty array of those (the handler gets key, separator and
 * value), and otherwise the string alone (a key whose value is an object or another array, or an array's
 * element). So the handlers can be called on the same pieces, in the same order, from this reader: the
 * result is the same text, without a match array and a callback for every string of every message.
 *
 * `jsonPieces` reads the whole text first and calls nothing when it is not JSON this reader accepts (the
 * caller scans it with SCAN then); it is a subset of JSON: strings are read as SCAN reads them.
 */

/** What the caller does with a piece: scrub a string alone, or a key with its value. */
export interface PieceHandlers {
  /** A string token `text.slice(start, end)` that SCAN would match alone; `deeper`: inside a flat array (scrubbed one level down). */
  string(start: number, end: number, deeper: boolean): void;
  /** A key whose name is secret or a code field, with its value: SCAN's key-value match. */
  keyValue(keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void;
}

/** A string's inner text shorter than this is left as it is by scrubString (MIN_SHAPED there): no piece. */
const MIN_INNER = 8;
/** Deeper nesting is read by SCAN (the reader recurses per level). */
const MAX_NESTING = 256;

const QUOTE = 34;
const BACKSLASH = 92;

const LITERALS = ['true', 'false', 'null'];
const isWs = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;
const isDigit = (c: number) => c >= 48 && c <= 57;

interface Action {
  kind: 0 | 1;
  a: number;
  b: number;
  c: number;
  d: number;
  deeper: boolean;
}

/**
 * Reads `text` as one JSON object or array; false when it is not one (then nothing was called). Otherwise
 * calls `h` for each piece in order and returns true. `secretKey(name)`: whether a key's value goes to keyValue.
 */
export function jsonPieces(text: string, secretKey: (name: string) => boolean, h: PieceHandlers): boolean {
  if (!opensJson(text)) return false;
  const r = new Reader(text, secretKey);
  const i = r.value(r.ws(0), 0);
  if (i < 0 || r.ws(i) !== text.length) return false;
  for (const x of r.actions) {
    if (x.kind === 0) h.string(x.a, x.b, x.deeper);
    else h.keyValue(x.a, x.b, x.c, x.d);
  }
  return true;
}

/** Whether the text's first character after JSON whitespace opens an object or an array (what jsonPieces reads). */
export function opensJson(text: string): boolean {
  let i = 0;
  while (i < text.length && isWs(text.charCodeAt(i))) i++;
  const c = text.charCodeAt(i);
  return c === 123 || c === 91;
}

class Reader {
  readonly actions: Action[] = [];
  /** The first backslash and newline at or after `from` (-1: none), for the strings read after it. */
  private backslash = { at: -2, from: 0 };
  private newline = { at: -2, from: 0 };

  constructor(private readonly text: string, private readonly secretKey: (name: string) => boolean) {}

  ws(i: number): number {
    const t = this.text;
    while (i < t.length && isWs(t.charCodeAt(i))) i++;
    return i;
  }

  /** The first `ch` at or after `k` (-1: none), searched again only when `k` is outside what the last search covers. */
  private next(m: { at: number; from: number }, ch: string, k: number): number {
    if (k < m.from || (m.at !== -1 && m.at < k)) {
      m.at = this.text.indexOf(ch, k);
      m.from = k;
    }
    return m.at;
  }

  /** End of the string token opening at `i` (a quote), or -1: read as SCAN's STR reads it (no raw newline; `\` and any character but a line end). */
  string(i: number): number {
    const t = this.text;
    let k = i + 1;
    for (;;) {
      const q = t.indexOf('"', k);
      if (q < 0) return -1;
      const nl = this.next(this.newline, '\n', k);
      if (nl !== -1 && nl < q) return -1;
      const e = this.next(this.backslash, '\\', k);
      if (e === -1 || e > q) return q + 1;
      // An escape before the quote: step over it and look again from after it.
      const n = t.charCodeAt(e + 1);
      if (e + 1 >= t.length || n === 10 || n === 13 || n === 0x2028 || n === 0x2029) return -1;
      k = e + 2;
    }
  }

  private str(start: number, end: number, deeper: boolean): void {
    if (end - start - 2 >= MIN_INNER) this.actions.push({ kind: 0, a: start, b: end, c: 0, d: 0, deeper });
  }

  /** A value at `i` (no whitespace before it); its end, or -1. */
  value(i: number, nesting: number): number {
    const t = this.text;
    const c = t.charCodeAt(i);
    if (c === QUOTE) {
      const end = this.string(i);
      if (end > 0) this.str(i, end, false);
      return end;
    }
    if (c === 123) return this.object(i, nesting + 1);
    if (c === 91) return this.array(i, nesting + 1, false);
    return this.scalar(i);
  }

  /** A number, `true`, `false` or `null` at `i`; its end, or -1. */
  scalar(i: number): number {
    const t = this.text;
    for (const word of LITERALS) if (t.startsWith(word, i)) return i + word.length;
    let k = i;
    if (t.charCodeAt(k) === 45) k++;
    if (t.charCodeAt(k) === 48) k++;
    else if (isDigit(t.charCodeAt(k))) while (isDigit(t.charCodeAt(k))) k++;
    else return -1;
    if (t.charCodeAt(k) === 46) {
      k++;
      if (!isDigit(t.charCodeAt(k))) return -1;
      while (isDigit(t.charCodeAt(k))) k++;
    }
    const e = t.charCodeAt(k);
    if (e === 101 || e === 69) {
      k++;
      const s = t.charCodeAt(k);
      if (s === 43 || s === 45) k++;
      if (!isDigit(t.charCodeAt(k))) return -1;
      while (isDigit(t.charCodeAt(k))) k++;
    }
    return k;
  }

  /** The items of an object (`close` 125) or array (93) opening at `i`, each read by `item` (its end, or -1); the container's end, or -1. */
  private items(i: number, nesting: number, close: number, item: (at: number) => number): number {
    if (nesting > MAX_NESTING) return -1;
    const t = this.text;
    i = this.ws(i + 1);
    if (t.charCodeAt(i) === close) return i + 1;
    for (;;) {
      const end = item(i);
      if (end < 0) return -1;
      i = this.ws(end);
      const c = t.charCodeAt(i);
      if (c === close) return i + 1;
      if (c !== 44) return -1;
      i = this.ws(i + 1);
    }
  }

  object(i: number, nesting: number): number {
    return this.items(i, nesting, 125, (k) => {
      const t = this.text;
      if (t.charCodeAt(k) !== QUOTE) return -1;
      const keyEnd = this.string(k);
      if (keyEnd < 0) return -1;
      const colon = this.ws(keyEnd);
      if (t.charCodeAt(colon) !== 58) return -1;
      return this.member(k, keyEnd, this.ws(colon + 1), nesting);
    });
  }

  /** A key (`keyStart`..`keyEnd`) and its value at `v`, as SCAN's first alternative matches them; the value's end, or -1. */
  private member(keyStart: number, keyEnd: number, v: number, nesting: number): number {
    const t = this.text;
    const c = t.charCodeAt(v);
    const flat = c === 91 && this.flatArray(v);
    if (c === 123 || (c === 91 && !flat)) {
      // SCAN's value alternatives fail here: the key is matched alone, and the value is read on.
      this.str(keyStart, keyEnd, false);
      return c === 123 ? this.object(v, nesting + 1) : this.array(v, nesting + 1, false);
    }
    const key = keyName(t, keyStart, keyEnd);
    const secret = this.secretKey(key);
    if (secret) {
      const mark = this.actions.length;
      const end = c === QUOTE ? this.string(v) : flat ? this.array(v, nesting + 1, true) : this.scalar(v);
      if (end < 0) return -1;
      // The handler takes the whole match: nothing inside it is a piece of its own.
      this.actions.length = mark;
      this.actions.push({ kind: 1, a: keyStart, b: keyEnd, c: v, d: end, deeper: false });
      return end;
    }
    if (c === QUOTE) {
      const end = this.string(v);
      if (end > 0) this.str(v, end, false);
      return end;
    }
    // A flat array under a key that is not secret: scrubbed as its own text, one level down.
    return flat ? this.array(v, nesting + 1, true) : this.scalar(v);
  }

  array(i: number, nesting: number, deeper: boolean): number {
    return this.items(i, nesting, 93, (k) => {
      if (this.text.charCodeAt(k) !== QUOTE) return this.value(k, nesting);
      const end = this.string(k);
      if (end > 0) this.str(k, end, deeper);
      return end;
    });
  }

  /** Whether the array at `i` holds at least one element and no object or array (SCAN's ARR matches it whole). */
  private flatArray(i: number): boolean {
    const t = this.text;
    let k = this.ws(i + 1);
    if (t.charCodeAt(k) === 93) return false;
    for (; k < t.length; k++) {
      const c = t.charCodeAt(k);
      if (c === QUOTE) {
        const end = this.string(k);
        if (end < 0) return false;
        k = end - 1;
      } else if (c === 93) return true;
      else if (c === 91 || c === 123) return false;
    }
    return false;
  }
}

/** A key token's name, as `JSON.parse` gives it (escapes are rare in keys). */
function keyName(t: string, start: number, end: number): string {
  const raw = t.slice(start + 1, end - 1);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(t.slice(start, end)) as string;
  } catch {
    return raw;
  }
}
