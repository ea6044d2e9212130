/** A seeded pseudo-random source, so that a failing split pattern can be run again. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function randomSplits(buf: Buffer, rand: () => number, max = 64): Buffer[] {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(rand() * Math.min(max, buf.length - i));
    parts.push(buf.subarray(i, i + n));
    i += n;
  }
  return parts;
}

/** Every two-part split of a small input, then 200 seeded random splittings. */
export function* splittings(buf: Buffer, seed: number): Generator<Buffer[]> {
  if (buf.length <= 600) for (let i = 1; i < buf.length; i++) yield [buf.subarray(0, i), buf.subarray(i)];
  const rand = prng(seed);
  for (let k = 0; k < 200; k++) yield randomSplits(buf, rand);
}
