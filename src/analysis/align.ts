export type Op<T> = { a: T | null; b: T | null };

/**
 * Aligns two sequences on their keys with Myers' O(ND) algorithm, so that one missing or extra item
 * does not shift everything after it. When the sequences differ too much for that to be cheap, the
 * rest is aligned greedily (still in order, never quadratic in memory).
 */
export function align<T>(a: T[], b: T[], key: (x: T) => string, maxD = 4000): Op<T>[] {
  const ka = a.map(key);
  const kb = b.map(key);
  // Common head and tail are aligned directly: most sessions share most of their length.
  let head = 0;
  while (head < a.length && head < b.length && ka[head] === kb[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && ka[a.length - 1 - tail] === kb[b.length - 1 - tail]) tail++;
  const out: Op<T>[] = [];
  for (let i = 0; i < head; i++) out.push({ a: a[i], b: b[i] });
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  out.push(...myers(midA, midB, ka.slice(head, a.length - tail), kb.slice(head, b.length - tail), maxD));
  for (let i = tail; i > 0; i--) out.push({ a: a[a.length - i], b: b[b.length - i] });
  return out;
}

function myers<T>(a: T[], b: T[], ka: string[], kb: string[], maxD: number): Op<T>[] {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map((x) => ({ a: null, b: x }));
  if (m === 0) return a.map((x) => ({ a: x, b: null }));
  const max = Math.min(n + m, maxD);
  const offset = max + 1;
  let v: Int32Array = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && ka[x] === kb[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found >= 0) break;
  }
  if (found < 0) return greedy(a, b, ka, kb);
  const ops: Op<T>[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    v = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? k + 1 : k - 1;
    const prevX = v[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) ops.push({ a: a[--x], b: b[--y] });
    if (x === prevX) ops.push({ a: null, b: b[--y] });
    else ops.push({ a: a[--x], b: null });
  }
  while (x > 0 && y > 0) ops.push({ a: a[--x], b: b[--y] });
  return ops.reverse();
}

/** In-order matching by key, looking a bounded distance ahead: linear, for very different sessions. */
function greedy<T>(a: T[], b: T[], ka: string[], kb: string[]): Op<T>[] {
  const out: Op<T>[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (ka[i] === kb[j]) {
      out.push({ a: a[i++], b: b[j++] });
      continue;
    }
    const inB = kb.indexOf(ka[i], j);
    const inA = ka.indexOf(kb[j], i);
    if (inB >= 0 && (inA < 0 || inB - j <= inA - i)) while (j < inB) out.push({ a: null, b: b[j++] });
    else if (inA >= 0) while (i < inA) out.push({ a: a[i++], b: null });
    else {
      out.push({ a: a[i++], b: null });
      out.push({ a: null, b: b[j++] });
    }
  }
  while (i < a.length) out.push({ a: a[i++], b: null });
  while (j < b.length) out.push({ a: null, b: b[j++] });
  return out;
}
