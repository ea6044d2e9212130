import type { RpcMessage } from '../model/model.js';
import { diffJson, type PathDiff } from './jsondiff.js';

export interface ToolInfo {
  name: string;
  inputSchema?: unknown;
  description?: string;
}

export interface ToolRename {
  from: string;
  to: string;
}

export interface ToolSurfaceDiff {
  /** Tools of the latest tools/list result in each session; null when a session never listed tools. */
  a: string[] | null;
  b: string[] | null;
  added: string[];
  removed: string[];
  renamed: ToolRename[];
  /** One line when the renames follow one rule: a prefix added or removed, or a separator changed. */
  pattern: string | null;
  schemaChanges: Array<{ tool: string; paths: PathDiff[] }>;
}

/** The tools of the last successful tools/list response in a session (pages of a cursor included). */
export function toolSurface(messages: RpcMessage[]): ToolInfo[] | null {
  let tools: ToolInfo[] | null = null;
  let page: ToolInfo[] = [];
  for (const m of messages) {
    if (m.kind !== 'response' || m.method !== 'tools/list' || m.truncated) continue;
    try {
      const r = JSON.parse(m.payload).result;
      if (!Array.isArray(r?.tools)) continue;
      page = page.concat(r.tools as ToolInfo[]);
      if (!r.nextCursor) {
        tools = page;
        page = [];
      }
    } catch {
      // A broken payload is reported by the checks, not here.
    }
  }
  return tools;
}

const norm = (s: string) => s.toLowerCase().replace(/[-_.:/\s]+/g, '_');

/** Pairs a removed name with an added one when the added is the removed plus a prefix (or minus one). */
function findRenames(removed: string[], added: string[]): { renamed: ToolRename[]; pattern: string | null } {
  const byPrefix = new Map<string, ToolRename[]>();
  const note = (key: string, r: ToolRename) => byPrefix.set(key, [...(byPrefix.get(key) ?? []), r]);
  for (const from of removed) {
    for (const to of added) {
      if (to.endsWith(from) && to.length > from.length) note(`+${to.slice(0, to.length - from.length)}`, { from, to });
      else if (from.endsWith(to) && from.length > to.length) note(`-${from.slice(0, from.length - to.length)}`, { from, to });
      else if (norm(from) === norm(to)) note('~sep', { from, to });
      else if (norm(to).endsWith('_' + norm(from))) note(`~+${to.slice(0, to.length - from.length)}`, { from, to });
    }
  }
  const renamed: ToolRename[] = [];
  const used = new Set<string>();
  let pattern: string | null = null;
  // The rule that explains the most renames wins; each name is used once.
  for (const [rule, pairs] of [...byPrefix].sort((x, y) => y[1].length - x[1].length)) {
    const fresh = pairs.filter((p) => !used.has(p.from) && !used.has(p.to));
    if (!fresh.length) continue;
    for (const p of fresh) {
      renamed.push(p);
      used.add(p.from);
      used.add(p.to);
    }
    if (!pattern) {
      const n = fresh.length;
      const ex = `${fresh[0].from} → ${fresh[0].to}`;
      if (rule.startsWith('+')) pattern = `tool names gained the prefix '${rule.slice(1)}' (${n} of ${removed.length}: ${ex})`;
      else if (rule.startsWith('-')) pattern = `tool names lost the prefix '${rule.slice(1)}' (${n} of ${removed.length}: ${ex})`;
      else if (rule === '~sep') pattern = `tool names changed separator (${n} of ${removed.length}: ${ex})`;
      else pattern = `tool names gained the prefix '${rule.slice(2)}' with a different separator (${n} of ${removed.length}: ${ex})`;
    }
  }
  return { renamed, pattern };
}

export function diffToolSurface(a: ToolInfo[] | null, b: ToolInfo[] | null): ToolSurfaceDiff {
  const namesA = a?.map((t) => t.name) ?? null;
  const namesB = b?.map((t) => t.name) ?? null;
  const out: ToolSurfaceDiff = { a: namesA, b: namesB, added: [], removed: [], renamed: [], pattern: null, schemaChanges: [] };
  if (!a || !b) return out;
  const setA = new Set(namesA);
  const setB = new Set(namesB);
  const removed = namesA!.filter((n) => !setB.has(n));
  const added = namesB!.filter((n) => !setA.has(n));
  const { renamed, pattern } = findRenames(removed, added);
  const renamedFrom = new Set(renamed.map((r) => r.from));
  const renamedTo = new Set(renamed.map((r) => r.to));
  out.removed = removed.filter((n) => !renamedFrom.has(n));
  out.added = added.filter((n) => !renamedTo.has(n));
  out.renamed = renamed;
  out.pattern = pattern;
  const mapB = new Map(b.map((t) => [t.name, t]));
  const pairs: Array<[ToolInfo, ToolInfo | undefined]> = a.map((t) => [t, mapB.get(renamed.find((r) => r.from === t.name)?.to ?? t.name)]);
  for (const [ta, tb] of pairs) {
    if (!tb) continue;
    const paths = diffJson(ta.inputSchema ?? null, tb.inputSchema ?? null, '$.inputSchema');
    if (paths.length) out.schemaChanges.push({ tool: ta.name, paths });
  }
  return out;
}

export function toolSurfaceChanged(d: ToolSurfaceDiff): boolean {
  return d.added.length + d.removed.length + d.renamed.length + d.schemaChanges.length > 0 || (d.a === null) !== (d.b === null);
}
