import type { Conversation, ConversationTurn } from '../store/turns-read.js';
import type { TurnContextCost } from '../analysis/context-cost.js';
import { approxTokens, serverCostLines } from '../analysis/context-cost.js';
import { bytes, clockTime, duration, pad, sessionRowJson } from './format.js';

/** `mcptap show CONVERSATION --json`: the shape documented in the README (`contextCost` per turn when given). */
export function conversationJson(c: Conversation, costs: TurnContextCost[] = []) {
  return {
    session: sessionRowJson(c.session),
    turns: c.turns.map((t, i) => ({
      seq: t.seq, ts: new Date(t.ts).toISOString(), api: t.api, model: t.model, stopReason: t.stopReason, usage: t.usage,
      toolsOffered: t.toolsOffered,
      toolUses: t.toolUses.map((u) => ({ id: u.id, name: u.name, input: u.input, mcpCall: u.mcpCall, linkedBy: u.linkedBy, result: u.result })),
      toolResults: t.toolResults,
      error: t.error,
      ...(costs[i] ? { contextCost: costs[i] } : {}),
    })),
  };
}

const oneLine = (s: string, w: number) => pad(s.replace(/\s+/g, ' ').trim(), w).trimEnd();

/** Where a tool use went: its MCP call (session:seq) and answer, or that none was sent. */
export function toolUseLine(u: ConversationTurn['toolUses'][number], width: number): string {
  const head = `${u.name}(${JSON.stringify(u.input ?? {})})`;
  if (u.kind !== 'tool_use' && u.kind !== 'function_call') return `${head}  (run by the API itself: ${u.kind})`;
  if (!u.mcpCall) return `${head}  → no MCP call`;
  const res = u.result ? `${u.result.isError ? 'isError: ' : ''}${u.result.text}` : 'no answer';
  return `${head}  → ${u.mcpCall.session}:${u.mcpCall.seq} (${u.linkedBy === 'tool-use-id' ? 'by tool-use id' : 'by name, arguments, time'})  ${oneLine(res, Math.max(20, width))}`;
}

/** A turn's context cost in one line: the request's size, then each part's share (MCP servers with tools and tokens). */
export function contextCostLine(c: TurnContextCost): string {
  const share = (b: number) => `${(100 * b / Math.max(1, c.requestBytes)).toFixed(1)}%`;
  const parts = c.parts.map((p) => p.kind === 'mcp-server'
    ? `${p.name} ${p.tools} tools ${approxTokens(p.tokens)} tok ${share(p.bytes)}`
    : `${p.name} ${share(p.bytes)}`);
  const usage = c.usageTokens == null ? ''
    : c.estimatedBy === 'usage-ratio' ? `, ${c.usageTokens} input tokens (API usage)` : `, API usage ${c.usageTokens} input tokens (implausible for its size: not used)`;
  return `context ${bytes(c.requestBytes)}${usage}: ${parts.join(', ')}`;
}

/** How the per-part tokens were estimated, said once under the summary. */
export function estimateNote(c: TurnContextCost): string {
  return c.estimatedBy === 'usage-ratio'
    ? `tokens per part estimated from the API's usage for the request (${c.bytesPerToken} bytes per token)`
    : `tokens per part estimated at ${c.bytesPerToken} bytes per token: no plausible usage recorded to calibrate on`;
}

/** The text rendering: a line per turn, its tool results sent back, its tool uses with their MCP calls inline. */
export function conversationLines(c: Conversation, width: number, costs: TurnContextCost[] = []): string[] {
  const s = c.session;
  const uses = c.turns.reduce((n, t) => n + t.toolUses.length, 0);
  const linked = c.turns.reduce((n, t) => n + t.toolUses.filter((u) => u.mcpCall).length, 0);
  const out = [`conversation ${s.id}  model-api  ${s.target}  ${s.clientInfo?.name ?? '?'}${s.mcpSessionId ? '  id ' + s.mcpSessionId : ''}  ${c.turns.length} turns, ${uses} tool uses (${linked} linked), ${s.errorCount} errors`];
  for (const t of c.turns) {
    const tokens = t.usage ? ` ${t.usage.input_tokens ?? t.usage.prompt_tokens ?? '?'}→${t.usage.output_tokens ?? t.usage.completion_tokens ?? '?'} tokens` : '';
    const err = t.error ? `  ERROR ${t.error.status ?? ''} ${t.error.type}: ${t.error.message}` : '';
    out.push(`${String(t.seq).padStart(4)} ${clockTime(t.ts)} ${pad(t.api, 18)} ${pad(t.model ?? '?', 20)} ${pad(t.stopReason ?? '', 10)} ${pad(duration(t.endedAt && t.endedAt - t.ts), 7)} ${t.toolsOffered.length} tools offered${tokens}${err}`);
    const cost = costs.find((x) => x.turn === t.seq);
    if (cost && cost.requestBytes) out.push(`       ${contextCostLine(cost)}`);
    for (const r of t.toolResults) out.push(`       ↩ result for ${r.toolUseId}${r.isError ? ' (is_error)' : ''}: ${oneLine(r.text, Math.max(20, width - 40))}`);
    for (const u of t.toolUses) out.push(`       ⚙ ${toolUseLine(u, width - 60)}`);
    if (t.text && !t.toolUses.length) out.push(`       “${oneLine(t.text, Math.max(20, width - 10))}”`);
  }
  const first = costs.find((x) => x.requestBytes);
  if (first) {
    const servers = serverCostLines(first);
    out.push('', `MCP tools in context${servers.length ? '' : ': none offered'}`, ...servers.map((l) => '  ' + l), `  (${estimateNote(first)})`);
  }
  return out;
}
