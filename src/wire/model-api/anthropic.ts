import {
  contentText, emptyResponse, errorOf, inputOf, isObj, str, usageOf,
  type ModelResponse, type ToolUse, type ToolUseKind,
} from './types.js';
import type { ResponseReader } from './reader.js';

type Obj = Record<string, unknown>;

const TOOL_BLOCKS = new Set<string>(['tool_use', 'server_tool_use', 'mcp_tool_use']);

interface OpenBlock {
  type: string;
  use: ToolUse | null;
  /** `input_json_delta` fragments: arguments may be split anywhere, even inside an escape. */
  partial: string[];
}

/** Anthropic Messages answers: the SSE events of a streamed turn, or the JSON message. */
export class AnthropicReader implements ResponseReader {
  readonly result: ModelResponse = emptyResponse();
  private readonly open = new Map<number, OpenBlock>();

  event(data: unknown): void {
    if (!isObj(data)) return;
    const r = this.result;
    switch (data.type) {
      case 'message_start': {
        const m = isObj(data.message) ? data.message : {};
        r.id = str(m.id);
        r.model = str(m.model);
        r.usage = usageOf(m.usage);
        break;
      }
      case 'content_block_start':
        this.start(Number(data.index), isObj(data.content_block) ? data.content_block : {});
        break;
      case 'content_block_delta': {
        const d = isObj(data.delta) ? data.delta : {};
        const b = this.open.get(Number(data.index));
        if (d.type === 'text_delta' && typeof d.text === 'string') r.text += d.text;
        else if (d.type === 'input_json_delta' && b && typeof d.partial_json === 'string') b.partial.push(d.partial_json);
        break;
      }
      case 'content_block_stop':
        this.stop(Number(data.index));
        break;
      case 'message_delta': {
        const d = isObj(data.delta) ? data.delta : {};
        if (typeof d.stop_reason === 'string') r.stopReason = d.stop_reason;
        const u = usageOf(data.usage);
        if (u) r.usage = { ...(r.usage ?? {}), ...u };
        break;
      }
      case 'message_stop':
        r.complete = true;
        break;
      case 'error':
        r.error = errorOf(data);
        break;
    }
  }

  body(data: unknown): void {
    if (!isObj(data)) return;
    const r = this.result;
    if (data.type === 'error' || (data.error && !data.content)) {
      r.error = errorOf(data);
      r.complete = true;
      return;
    }
    r.id = str(data.id);
    r.model = str(data.model);
    r.stopReason = str(data.stop_reason);
    r.usage = usageOf(data.usage) ?? (typeof data.input_tokens === 'number' ? { input_tokens: data.input_tokens } : null);
    const content = Array.isArray(data.content) ? data.content : [];
    content.forEach((c, i) => {
      if (!isObj(c)) return;
      this.start(i, c);
      this.stop(i);
    });
    r.complete = true;
  }

  end(): void {
    // A stream cut short still tells which tools the model had begun to ask for.
    for (const i of [...this.open.keys()]) this.stop(i);
  }

  private start(index: number, block: Obj): void {
    const type = String(block.type ?? '');
    const r = this.result;
    if (type === 'text' && typeof block.text === 'string') r.text += block.text;
    if (type === 'mcp_tool_result') {
      r.serverResults.push({ toolUseId: str(block.tool_use_id) ?? '', isError: block.is_error === true, text: contentText(block.content) });
    }
    let use: ToolUse | null = null;
    const partial: string[] = [];
    if (TOOL_BLOCKS.has(type)) {
      use = { id: str(block.id) ?? '', name: str(block.name) ?? '', input: {}, inputText: '', kind: type as ToolUseKind, serverLabel: str(block.server_name) };
      // A JSON answer carries the whole input; a stream starts with {} and sends it in deltas.
      if (isObj(block.input) && Object.keys(block.input).length) partial.push(JSON.stringify(block.input));
    }
    this.open.set(index, { type, use, partial });
  }

  private stop(index: number): void {
    const b = this.open.get(index);
    if (!b) return;
    this.open.delete(index);
    if (!b.use) return;
    b.use.inputText = b.partial.join('');
    b.use.input = inputOf(b.use.inputText);
    this.result.toolUses.push(b.use);
  }
}
