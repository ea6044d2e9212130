import type { Attributes } from '@opentelemetry/api';
import type { Session } from '../model/model.js';
import type { ConversationToolUse, ConversationTurn } from '../capture/conversation.js';
import { splitClaudeName } from '../capture/join.js';
import { ATTR, ERROR_TYPE, OPERATION, PROVIDER } from './semconv.js';
import { evidenceKey, serverOf, spanIds, type Place, type TelemetrySpan } from './span.js';

/** Whether a tool use reached an MCP server, and when its call was answered. */
export interface UseLink {
  linked: boolean;
  /** When the MCP call's answer arrived, if it did. */
  answeredAt: number | null;
}

/**
 * `error.type` of an MCP tool use (a `mcp__server__tool` name) that never became a `tools/call`: Claude
 * Code answered the model itself ("No such tool available"). mcptap's own value, not the conventions'.
 */
export const NO_MCP_CALL = 'mcp_call_missing';

export function providerOf(api: ConversationTurn['api']): string {
  return api.startsWith('anthropic') ? PROVIDER.anthropic : PROVIDER.openai;
}

/**
 * Usage in the conventions' terms: `gen_ai.usage.input_tokens` includes cache reads and cache writes
 * (anthropic.md: Anthropic reports them apart, and they MUST be added); OpenAI's prompt tokens already do.
 */
export function usageAttributes(u: Record<string, number> | null): Attributes {
  if (!u) return {};
  const a: Attributes = {};
  const read = u.cache_read_input_tokens;
  const created = u.cache_creation_input_tokens;
  const input = u.input_tokens ?? u.prompt_tokens;
  if (input != null) a[ATTR.genAiUsageInputTokens] = input + (u.prompt_tokens == null ? (read ?? 0) + (created ?? 0) : 0);
  const output = u.output_tokens ?? u.completion_tokens;
  if (output != null) a[ATTR.genAiUsageOutputTokens] = output;
  if (read != null) a[ATTR.genAiUsageCacheReadInputTokens] = read;
  if (created != null) a[ATTR.genAiUsageCacheCreationInputTokens] = created;
  return a;
}

/** A turn's low-cardinality attributes, shared with the GenAI histograms. */
export function turnAttributes(session: Session, t: Pick<ConversationTurn, 'api' | 'model'>): Attributes {
  const a: Attributes = { [ATTR.genAiOperationName]: OPERATION.chat, [ATTR.genAiProviderName]: providerOf(t.api) };
  if (t.model) a[ATTR.genAiRequestModel] = t.model;
  return { ...a, ...serverOf(session.target) };
}

interface Pending {
  use: ConversationToolUse;
  place: Place;
  start: number;
}

/**
 * Turns of one conversation into spans, in order, live or from the store. A trace is one user prompt:
 * a turn whose request carries no tool results begins a new trace, and the turns that carry tool
 * results back continue it, so one prompt's turns, tool uses and the MCP calls they caused are one
 * trace however long the conversation grows. A turn whose request carried `traceparent` goes in that
 * trace instead. Each tool use is an `execute_tool` span under its turn, from the moment the model's
 * answer ended to the moment its result went back (or its MCP call was answered, if nothing went back).
 */
export class ConversationTracer {
  private trace: string | null = null;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly session: Session,
    private readonly opts: { link: (use: ConversationToolUse) => UseLink; clientPlace?: (exchangeId: string) => Place | null; payloads?: boolean },
  ) {}

  /** Where a tool use's span is, once its turn was seen (for the MCP call it caused). */
  placeOfUse(useId: string): { traceId: string; spanId: string } | null {
    const p = this.pending.get(useId);
    return p ? { traceId: p.place.traceId, spanId: spanIds.tool(this.session.id, useId) } : null;
  }

  /** The spans a turn completes: its own, and the tool uses whose results it carried back. */
  addTurn(t: ConversationTurn): TelemetrySpan[] {
    const out: TelemetrySpan[] = [];
    for (const r of t.toolResults) {
      const p = this.pending.get(r.toolUseId);
      if (!p) continue;
      this.pending.delete(r.toolUseId);
      out.push(this.toolSpan(p, t.ts, r.isError ? r.text : null));
    }
    if (!t.toolResults.length || this.trace == null) this.trace = spanIds.promptTrace(this.session.id, t.seq);
    const client = this.opts.clientPlace?.(t.exchangeId) ?? null;
    const place: Place = client ?? { traceId: this.trace, parentSpanId: null };
    const span = this.turnSpan(t, place);
    out.push(span);
    for (const u of t.toolUses) {
      if (u.kind !== 'tool_use' && u.kind !== 'function_call') continue;
      this.pending.set(u.id, { use: u, place: { traceId: place.traceId, parentSpanId: span.spanId }, start: t.endedAt ?? t.ts });
    }
    return out;
  }

  /** Tool uses whose results never came back (the conversation ended, or the proxy stopped). */
  finish(): TelemetrySpan[] {
    const out = [...this.pending.values()].map((p) => this.toolSpan(p, null, null));
    this.pending.clear();
    return out;
  }

  private turnSpan(t: ConversationTurn, place: Place): TelemetrySpan {
    const a = turnAttributes(this.session, t);
    a[ATTR.genAiRequestStream] = t.stream;
    if (t.stopReason) a[ATTR.genAiResponseFinishReasons] = [t.stopReason];
    if (this.session.mcpSessionId) a[ATTR.genAiConversationId] = this.session.mcpSessionId;
    Object.assign(a, usageAttributes(t.usage));
    const error = t.error ? { type: t.error.type || String(t.error.status ?? ERROR_TYPE.other), message: t.error.message.slice(0, 200) } : null;
    return {
      ...place, spanId: spanIds.turn(this.session.id, t.seq), name: t.model ? `${OPERATION.chat} ${t.model}` : OPERATION.chat, kind: 'client',
      start: t.ts, end: t.endedAt ?? t.ts, attributes: a, error, events: [], evidence: [evidenceKey.turn(this.session.id, t.seq)],
    };
  }

  private toolSpan(p: Pending, resultAt: number | null, errorText: string | null): TelemetrySpan {
    const u = p.use;
    const link = this.opts.link(u);
    const a: Attributes = {
      [ATTR.genAiOperationName]: OPERATION.executeTool, [ATTR.genAiToolName]: u.name, [ATTR.genAiToolCallId]: u.id,
      [ATTR.genAiToolType]: 'function',
    };
    if (this.opts.payloads && u.input !== undefined) a[ATTR.genAiToolCallArguments] = JSON.stringify(u.input);
    let error: TelemetrySpan['error'] = null;
    if (splitClaudeName(u.name) && !link.linked && resultAt != null) {
      error = { type: NO_MCP_CALL, message: `no MCP tools/call was sent for ${u.name}${errorText ? `: ${errorText.slice(0, 160)}` : ''}` };
    } else if (errorText != null) error = { type: ERROR_TYPE.toolError, message: errorText.slice(0, 200) };
    const end = resultAt ?? link.answeredAt ?? p.start;
    return {
      ...p.place, spanId: spanIds.tool(this.session.id, u.id), name: `${OPERATION.executeTool} ${u.name}`, kind: 'internal',
      start: Math.min(p.start, end), end, attributes: a, error, events: [],
    };
  }
}
