export interface PathDiff {
  /** `$.result.tools[name=query].inputSchema.required` */
  path: string;
  change: 'changed' | 'added' | 'removed';
  a?: unknown;
  b?: unknown;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The key that identifies an element of a list of tools, prompts or resources, so order does not matter. */
function identity(list: unknown[]): 'name' | 'uri' | null {
  if (list.length === 0 || !list.every(isObj)) return null;
  for (const k of ['name', 'uri'] as const) {
    const ids = list.map((x) => (x as Record<string, unknown>)[k]);
    if (ids.every((x) => typeof x === 'string') && new Set(ids).size === ids.length) return k;
  }
  return null;
}

/** Every JSON path at which two (normalised) values differ; lists of named things are matched by name. */
export function diffJson(a: unknown, b: unknown, path = '$', out: PathDiff[] = [], limit = 200): PathDiff[] {
  if (out.length >= limit) return out;
  if (isObj(a) && isObj(b)) {
    for (const k of Object.keys(a)) {
      if (!(k in b)) out.push({ path: `${path}.${k}`, change: 'removed', a: a[k] });
      else diffJson(a[k], b[k], `${path}.${k}`, out, limit);
    }
    for (const k of Object.keys(b)) if (!(k in a)) out.push({ path: `${path}.${k}`, change: 'added', b: b[k] });
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const ka = identity(a);
    const kb = identity(b);
    if (ka && ka === kb) {
      const mapB = new Map(b.map((x) => [(x as Record<string, string>)[ka], x]));
      const seen = new Set<string>();
      for (const x of a) {
        const id = (x as Record<string, string>)[ka];
        seen.add(id);
        const p = `${path}[${ka}=${id}]`;
        if (!mapB.has(id)) out.push({ path: p, change: 'removed', a: x });
        else diffJson(x, mapB.get(id), p, out, limit);
      }
      for (const x of b) {
        const id = (x as Record<string, string>)[ka];
        if (!seen.has(id)) out.push({ path: `${path}[${ka}=${id}]`, change: 'added', b: x });
      }
      return out;
    }
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (i >= a.length) out.push({ path: `${path}[${i}]`, change: 'added', b: b[i] });
      else if (i >= b.length) out.push({ path: `${path}[${i}]`, change: 'removed', a: a[i] });
      else diffJson(a[i], b[i], `${path}[${i}]`, out, limit);
    }
    return out;
  }
  if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) out.push({ path, change: 'changed', a, b });
  return out;
}
