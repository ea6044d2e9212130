import { contentText, emptyResponse, errorOf, inputOf, isObj, parseJson, str, usageOf, type ModelResponse } from './types.js';
import type { ResponseReader } from './reader.js';

type Obj = Record<string, unknown>;

interface ItemState {
  item: Obj;
  /** Argument fragments (`response.function_call_arguments.delta`, `response.mcp_call_arguments.delta`). */
  args: string[];
  done: boolean;
}

/**
 * OpenAI Responses answers: the `response.*` events of a stream, or the JSON response; with the MCP
 * items (`mcp_list_tools`, `mcp_call`) and LiteLLM's own (`mcp_tools_fetched`, `tool_execution_results`).
 * Items are kept by id: a stream names each up to three times (added, done, and in `response.completed`).
 */
export class OpenAiResponsesReader implements ResponseReader {
  readonly result: ModelResponse = emptyResponse();
  private readonly items = new Map<string, ItemState>();
  private anon = 0;

  event(data: unknown): void {
    if (!isObj(data)) return;
    const type = String(data.type ?? '');
    const r = this.result;
    if (type === 'response.created' || type === 'response.in_progress') this.head(data.response);
    else if (type === 'response.output_item.added') this.item(data.item, false);
    else if (type === 'response.output_item.done') this.item(data.item, true);
    else if (type === 'response.output_text.delta' && typeof data.delta === 'string') r.text += data.delta;
    else if (type === 'response.function_call_arguments.delta' || type === 'response.mcp_call_arguments.delta') {
      const st = this.items.get(str(data.item_id) ?? '');
      if (st && typeof data.delta === 'string') st.args.push(data.delta);
    } else if (type === 'response.function_call_arguments.done' || type === 'response.mcp_call_arguments.done') {
      const st = this.items.get(str(data.item_id) ?? '');
      if (st && typeof data.arguments === 'string') st.args = [data.arguments];
    } else if (type === 'response.mcp_list_tools.failed') {
      r.mcpListings.push({ serverLabel: str(data.server_label) ?? '', tools: [], error: 'listing failed' });
    } else if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
      this.whole(data.response);
      r.complete = true;
    } else if (type === 'error') {
      r.error = errorOf(data);
    }
  }

  body(data: unknown): void {
    if (!isObj(data)) return;
    if (data.error && !data.output) {
      this.result.error = errorOf(data);
    } else this.whole(data);
    this.result.complete = true;
  }

  private head(resp: unknown): void {
    if (!isObj(resp)) return;
    this.result.id ??= str(resp.id);
    this.result.model ??= str(resp.model);
  }

  private whole(resp: unknown): void {
    if (!isObj(resp)) return;
    this.head(resp);
    const r = this.result;
    r.usage = usageOf(resp.usage) ?? r.usage;
    const incomplete = isObj(resp.incomplete_details) ? str(resp.incomplete_details.reason) : null;
    r.stopReason = incomplete ?? str(resp.status) ?? r.stopReason;
    if (isObj(resp.error)) r.error = errorOf(resp.error);
    for (const it of Array.isArray(resp.output) ? resp.output : []) this.item(it, true);
  }

  private item(v: unknown, done: boolean): void {
    if (!isObj(v)) return;
    const id = str(v.id) ?? str(v.call_id) ?? `#${this.anon++}`;
    const st = this.items.get(id);
    if (!st) this.items.set(id, { item: v, args: [], done });
    else if (done || !st.done) {
      st.item = { ...st.item, ...v };
      st.done ||= done;
    }
  }

  end(): void {
    const r = this.result;
    const streamedText = r.text !== '';
    for (const { item, args } of this.items.values()) {
      const type = item.type;
      const argText = typeof item.arguments === 'string' ? item.arguments : args.join('');
      if (type === 'function_call') {
        r.toolUses.push({ id: str(item.call_id) ?? str(item.id) ?? '', name: str(item.name) ?? '', input: inputOf(argText), inputText: argText, kind: 'function_call', serverLabel: null });
      } else if (type === 'mcp_call') {
        const id = str(item.id) ?? '';
        r.toolUses.push({ id, name: str(item.name) ?? '', input: inputOf(argText), inputText: argText, kind: 'mcp_call', serverLabel: str(item.server_label) });
        if (item.output != null || item.error != null) {
          r.serverResults.push({ toolUseId: id, isError: item.error != null, text: item.error != null ? contentText(item.error) : contentText(item.output) });
        }
      } else if (type === 'mcp_list_tools') {
        const tools = Array.isArray(item.tools) ? item.tools.map((t) => (isObj(t) ? str(t.name) : null)).filter((n): n is string => !!n) : [];
        r.mcpListings.push({ serverLabel: str(item.server_label) ?? '', tools, error: item.error != null ? contentText(item.error) : null });
      } else if (type === 'mcp_tools_fetched') {
        const list = parseJson(contentText(item.content));
        const tools = Array.isArray(list) ? list.map(toolNameOf).filter((n): n is string => !!n) : [];
        r.mcpListings.push({ serverLabel: 'litellm_proxy', tools, error: null });
      } else if (type === 'tool_execution_results') {
        const list = parseJson(contentText(item.content));
        for (const x of Array.isArray(list) ? list : []) {
          if (!isObj(x)) continue;
          const text = contentText(x.result);
          r.serverResults.push({ toolUseId: str(x.tool_call_id) ?? '', isError: /^(Error|Tool call failed|Tool call blocked)/.test(text), text });
        }
      } else if (type === 'message' && !streamedText) {
        r.text += contentText(item.content);
      }
    }
    this.items.clear();
  }
}

/** LiteLLM lists tools in OpenAI function form (`{type, function: {name}}`) or plain (`{name}`). */
function toolNameOf(t: unknown): string | null {
  if (!isObj(t)) return null;
  if (typeof t.name === 'string') return t.name;
  return isObj(t.function) ? str(t.function.name) : null;
}
