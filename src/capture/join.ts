import type { Turn, ToolUse } from './turn.js';

/** An MCP `tools/call` request (any session, any proxy) with what it answered, for the join. */
export interface McpCall {
  sessionId: string;
  seq: number;
  ts: number;
  /** The MCP tool name (`params.name`). */
  name: string;
  /** `params.arguments` as canonical JSON. */
  args: string;
  /** `params._meta["claudecode/toolUseId"]`, which Claude Code 2.1.330 sends on every call. */
  toolUseId: string | null;
  result: McpResult | null;
}

export interface McpResult {
  seq: number;
  isError: boolean;
  text: string;
}

export type LinkedBy = 'tool-use-id' | 'name-args-time';

export interface ToolUseLink {
  call: McpCall;
  by: LinkedBy;
}

/** JSON with keys sorted at every level: the same arguments give the same text whoever serialised them. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return '{' + Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}';
  }
  return JSON.stringify(v ?? null);
}

/**
 * Claude Code's name for an MCP tool: `mcp__<server>__<tool>`, the server name with characters outside
 * [A-Za-z0-9_-] replaced by `_`, the tool name verbatim. Null for names of another form.
 */
export function splitClaudeName(name: string): { server: string; tool: string } | null {
  const m = /^mcp__(.+?)__(.+)$/.exec(name);
  return m ? { server: m[1], tool: m[2] } : null;
}

export function claudeServerName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** The MCP tool a model's tool name stands for (the tool part of a Claude Code name, else the name). */
export function mcpToolName(modelName: string): string {
  return splitClaudeName(modelName)?.tool ?? modelName;
}

export interface LinkOptions {
  /** How a tool use's input is compared with `McpCall.args` (default: canonical JSON; the store compares hashes). */
  args?: (input: unknown) => string;
  /** Calls (`callKey`) that turns outside those given have claimed already. */
  claimed?: Set<string>;
}

/** A call's key among all sessions: its session and seq. */
export const callKey = (sessionId: string, seq: number): string => sessionId + ':' + seq;

/**
 * Links each tool use of a conversation to the MCP `tools/call` it caused: exactly, by the tool-use id
 * the call carries; otherwise by tool name, canonical arguments and time (the first unclaimed call
 * after the turn that asked for it, before the next turn began). Calls carrying another tool use's id
 * are never matched by name. Returns links by tool-use id.
 */
export function linkToolUses(turns: Turn[], calls: McpCall[], opts: LinkOptions = {}): Map<string, ToolUseLink> {
  const links = new Map<string, ToolUseLink>();
  const byUseId = new Map<string, McpCall>();
  for (const c of calls) if (c.toolUseId && !byUseId.has(c.toolUseId)) byUseId.set(c.toolUseId, c);
  const pending: Array<{ use: ToolUse; from: number; until: number }> = [];
  const ordered = [...turns].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  ordered.forEach((t, i) => {
    const until = i + 1 < ordered.length ? ordered[i + 1].ts : Infinity;
    for (const use of t.toolUses) {
      if (use.kind !== 'tool_use' && use.kind !== 'function_call') continue;
      const exact = byUseId.get(use.id);
      if (exact) links.set(use.id, { call: exact, by: 'tool-use-id' });
      else pending.push({ use, from: t.ts, until });
    }
  });
  if (!pending.length) return links;
  const claimed = new Set(opts.claimed);
  const argsOf = opts.args ?? ((input: unknown) => canonicalJson(input));
  const free = calls.filter((c) => !c.toolUseId).sort((a, b) => a.ts - b.ts);
  for (const p of pending) {
    const name = mcpToolName(p.use.name);
    const args = argsOf(p.use.input ?? {});
    const hit = free.find((c) => !claimed.has(callKey(c.sessionId, c.seq)) && c.ts >= p.from && c.ts <= p.until && c.name === name && c.args === args);
    if (hit) {
      claimed.add(callKey(hit.sessionId, hit.seq));
      links.set(p.use.id, { call: hit, by: 'name-args-time' });
    }
  }
  return links;
}

/** Stored payload JSON; a payload cut short (truncated) reads as null. */
function parse(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A `tools/call` request (and its answer, if any) as the join reads it; null when the payload does not parse. */
export function mcpCallOf(sessionId: string, seq: number, ts: number, payload: string, answer: { seq: number; payload: string } | null): McpCall | null {
  const p = parse(payload);
  if (!p) return null;
  const params = p.params ?? {};
  const id = params._meta?.['claudecode/toolUseId'];
  return {
    sessionId, seq, ts, name: String(params.name ?? ''), args: canonicalJson(params.arguments ?? {}),
    toolUseId: typeof id === 'string' ? id : null, result: answer ? resultOf(answer.seq, answer.payload) : null,
  };
}

/** What an MCP answer says, as the model would be shown it: text content joined, or the error. */
export function resultOf(seq: number, payload: string): McpResult {
  const p = parse(payload);
  if (p?.error) return { seq, isError: true, text: String(p.error.message ?? '') };
  const content = Array.isArray(p?.result?.content) ? p.result.content : [];
  const text = content.map((c: { type?: string; text?: string }) => (typeof c?.text === 'string' ? c.text : `[${c?.type ?? 'content'}]`)).join('\n');
  return { seq, isError: p?.result?.isError === true, text };
}

/** Names in a tools/list answer's payload, or null when it holds no list. */
export function toolNamesOf(payload: string): string[] | null {
  const tools = parse(payload)?.result?.tools;
  return Array.isArray(tools) ? tools.map((t: { name?: unknown }) => String(t?.name ?? '')) : null;
}
