import type { HeaderList } from './model.js';

export function pairs(raw: string[]): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}

/** First value of a header, case-insensitive; null when absent. */
export function header(list: HeaderList | null | undefined, name: string): string | null {
  if (!list) return null;
  const n = name.toLowerCase();
  // Lengths first: lower-casing every name on every lookup was a copy per header per call.
  for (const [k, v] of list) if (k.length === n.length && (k === n || k.toLowerCase() === n)) return v;
  return null;
}

export function mediaType(contentType: string | null): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}
