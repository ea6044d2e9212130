// Values that differ from run to run without meaning anything: they are not differences.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_INSIDE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;
// requestState: the opaque state a 2026-07-28 server mints for a multi round-trip retry, new on every run.
const VOLATILE_KEYS = new Set(['_meta', 'progressToken', 'sessionId', 'requestId', 'timestamp', 'createdAt', 'updatedAt', 'lastModified', 'nextCursor', 'requestState']);

export interface NormalizeOptions {
  /** JSON paths to ignore, e.g. `result.serverInfo.version` or `$.params.arguments.limit`; `*` matches any key or index. */
  ignore?: string[];
}

/** Parses `--ignore` paths into segment lists (`$` optional, `a.b[0].c`, `a.*.c`). */
export function parseIgnore(paths: string[] = []): string[][] {
  return paths.map((p) =>
    p.replace(/^\$\.?/, '').replace(/\[(\d+|\*)\]/g, '.$1').split('.').filter(Boolean),
  );
}

function ignored(path: string[], ignores: string[][]): boolean {
  return ignores.some((ig) => ig.length === path.length && ig.every((seg, i) => seg === '*' || seg === path[i]));
}

/**
 * A copy of a JSON-RPC message with run-specific values replaced by placeholders: the JSON-RPC id,
 * session ids, UUIDs, timestamps, progress tokens and `_meta`, plus any `--ignore` path.
 */
export function normalize(value: unknown, opts: { ignore: string[][] } = { ignore: [] }, path: string[] = []): unknown {
  if (path.length === 0 && value && typeof value === 'object' && !Array.isArray(value)) {
    const rest: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    delete rest.id;
    return normalizeInner(rest, opts.ignore, path);
  }
  return normalizeInner(value, opts.ignore, path);
}

function normalizeInner(v: unknown, ignores: string[][], path: string[]): unknown {
  if (ignores.length && ignored(path, ignores)) return '<ignored>';
  if (typeof v === 'string') {
    if (UUID.test(v)) return '<uuid>';
    if (ISO_TIME.test(v)) return '<time>';
    return v.includes('-') ? v.replace(UUID_INSIDE, '<uuid>') : v;
  }
  if (Array.isArray(v)) return v.map((x, i) => normalizeInner(x, ignores, [...path, String(i)]));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (VOLATILE_KEYS.has(k)) continue;
      // An ignored key is left out, not blanked: one that only one side has is then no difference either.
      if (ignores.length && ignored([...path, k], ignores)) continue;
      out[k] = normalizeInner(x, ignores, [...path, k]);
    }
    return out;
  }
  return v;
}
