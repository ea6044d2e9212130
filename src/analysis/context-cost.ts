import { splitClaudeName } from '../capture/join.js';

// What a model request spends its context on: the system prompt, the messages, the client's built-in
// tools and each MCP server's tools (Claude Code names them `mcp__<server>__<tool>`). Bytes are measured
// on the JSON as sent; tokens are the API's own usage for the whole request, and per part an estimate.
//
// The estimate is a ratio, not a tokenizer: no maintained tokenizer package matches Claude's current
// models (@anthropic-ai/tokenizer is for the Claude 2 era). Where the API's usage is recorded and
// plausible, the ratio is that turn's (input tokens ÷ request bytes), so the parts add up to the usage;
// where it is not (a stand-in model, an API that reports none), DEFAULT_BYTES_PER_TOKEN is used.

/** Bytes of request JSON per token when no usage calibrates it: Claude's tokens run about 3.5 characters of English or JSON. */
export const DEFAULT_BYTES_PER_TOKEN = 3.5;
/** A usage outside these bytes-per-token bounds is not a real count of this request (a stand-in model's "1 token"). */
const PLAUSIBLE_BYTES_PER_TOKEN = [1, 12] as const;

export interface ToolCost {
  name: string;
  bytes: number;
}

/** The tools array split by owner; made once per distinct array (the blob hash). */
export interface ToolsSplit {
  /** Bytes of the whole array as sent. */
  bytes: number;
  builtin: { tools: number; bytes: number };
  /** Per MCP server, heaviest first; each server's tools heaviest first. */
  servers: Array<{ server: string; tools: ToolCost[]; bytes: number }>;
}

export interface ContextPart {
  /** `system`, `messages`, `built-in tools`, or `mcp__<server>`. */
  name: string;
  kind: 'system' | 'messages' | 'builtin-tools' | 'mcp-server';
  bytes: number;
  /** An estimate (see `estimatedBy`). */
  tokens: number;
  /** Tools in the part (tool parts only). */
  tools?: number;
}

export interface TurnContextCost {
  turn: number;
  requestBytes: number;
  /** The API's own count of the request's input tokens (cache reads and writes included), or null. */
  usageTokens: number | null;
  /** How the per-part tokens were made: this turn's usage, or the default ratio (no plausible usage). */
  estimatedBy: 'usage-ratio' | 'default-ratio';
  bytesPerToken: number;
  parts: ContextPart[];
  /** Share of the request (bytes) spent on MCP tool definitions, 0..1. */
  mcpShare: number;
  /** The heaviest MCP tools, with their server, at most five. */
  heaviestTools: Array<ToolCost & { server: string; tokens: number }>;
}

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

function toolName(t: unknown): string | null {
  if (!t || typeof t !== 'object') return null;
  const o = t as Record<string, unknown>;
  if (typeof o.name === 'string') return o.name;
  const f = o.function as Record<string, unknown> | undefined;
  return f && typeof f.name === 'string' ? f.name : null;
}

/** The tools array (its JSON text as stored) split into built-in tools and each MCP server's. */
export function splitTools(toolsJson: string): ToolsSplit {
  let tools: unknown[] = [];
  try {
    const v = JSON.parse(toolsJson);
    if (Array.isArray(v)) tools = v;
  } catch { /* not an array: nothing to split */ }
  const builtin = { tools: 0, bytes: 0 };
  const servers = new Map<string, ToolCost[]>();
  for (const t of tools) {
    const name = toolName(t) ?? '?';
    // Each element's bytes, and the comma that follows it in the array.
    const bytes = utf8(JSON.stringify(t)) + 1;
    const mcp = splitClaudeName(name);
    if (!mcp) {
      builtin.tools++;
      builtin.bytes += bytes;
      continue;
    }
    const list = servers.get(mcp.server) ?? [];
    list.push({ name, bytes });
    servers.set(mcp.server, list);
  }
  // The array's brackets less the comma after the last element: counted with the built-in tools.
  builtin.bytes += tools.length ? 1 : 2;
  return {
    bytes: utf8(toolsJson),
    builtin,
    servers: [...servers].map(([server, list]) => ({ server, tools: list.sort((a, b) => b.bytes - a.bytes), bytes: list.reduce((n, x) => n + x.bytes, 0) }))
      .sort((a, b) => b.bytes - a.bytes),
  };
}

/** The input tokens a usage object counts (Anthropic's cache reads and writes included), or null. */
export function inputTokens(usage: Record<string, number> | null): number | null {
  if (!usage) return null;
  if (usage.prompt_tokens != null) return usage.prompt_tokens;
  if (usage.input_tokens == null) return null;
  return usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
}

/**
 * One turn's cost. `requestBytes` is the body as sent, `systemBytes` the system prompt's JSON (its
 * member value), `tools` the split of its tools array; the messages part is the rest of the body.
 */
export function turnContextCost(turn: number, requestBytes: number, systemBytes: number, tools: ToolsSplit | null, usage: Record<string, number> | null): TurnContextCost {
  const usageTokens = inputTokens(usage);
  const plausible = usageTokens != null && usageTokens > 0 && requestBytes / usageTokens >= PLAUSIBLE_BYTES_PER_TOKEN[0] && requestBytes / usageTokens <= PLAUSIBLE_BYTES_PER_TOKEN[1];
  const bytesPerToken = plausible ? requestBytes / usageTokens! : DEFAULT_BYTES_PER_TOKEN;
  const tok = (b: number) => Math.round(b / bytesPerToken);
  const toolBytes = tools?.bytes ?? 0;
  const parts: ContextPart[] = [
    { name: 'system', kind: 'system', bytes: systemBytes, tokens: tok(systemBytes) },
    { name: 'messages', kind: 'messages', bytes: Math.max(0, requestBytes - systemBytes - toolBytes), tokens: 0 },
  ];
  parts[1].tokens = tok(parts[1].bytes);
  if (tools) {
    parts.push({ name: 'built-in tools', kind: 'builtin-tools', bytes: tools.builtin.bytes, tokens: tok(tools.builtin.bytes), tools: tools.builtin.tools });
    for (const s of tools.servers) parts.push({ name: `mcp__${s.server}`, kind: 'mcp-server', bytes: s.bytes, tokens: tok(s.bytes), tools: s.tools.length });
  }
  const mcpBytes = tools?.servers.reduce((n, s) => n + s.bytes, 0) ?? 0;
  const heaviestTools = (tools?.servers ?? []).flatMap((s) => s.tools.map((t) => ({ ...t, server: s.server, tokens: tok(t.bytes) })))
    .sort((a, b) => b.bytes - a.bytes).slice(0, 5);
  return {
    turn, requestBytes, usageTokens, estimatedBy: plausible ? 'usage-ratio' : 'default-ratio', bytesPerToken: Math.round(bytesPerToken * 100) / 100,
    parts, mcpShare: requestBytes ? mcpBytes / requestBytes : 0, heaviestTools,
  };
}

/** "~4.1k" tokens. */
export function approxTokens(n: number): string {
  return n >= 1000 ? `~${(n / 1000).toFixed(1)}k` : `~${n}`;
}

/** "mcp__db_main: 10 tools, ~4.1k tokens, 3.2% of the first request", one line per MCP server. */
export function serverCostLines(c: TurnContextCost, of = 'the first request'): string[] {
  return c.parts.filter((p) => p.kind === 'mcp-server').map((p) =>
    `${p.name}: ${p.tools} tool${p.tools === 1 ? '' : 's'}, ${approxTokens(p.tokens)} tokens, ${(100 * p.bytes / Math.max(1, c.requestBytes)).toFixed(1)}% of ${of}`);
}
