import { emptyResponse, errorOf, inputOf, isObj, str, usageOf, type ModelResponse } from './types.js';
import type { ResponseReader } from './reader.js';

type Obj = Record<string, unknown>;

interface CallParts {
  id: string;
  name: string;
  args: string[];
}

/** OpenAI Chat Completions answers: `chat.completion.chunk` events up to `[DONE]`, or the JSON completion. */
export class OpenAiChatReader implements ResponseReader {
  readonly result: ModelResponse = emptyResponse();
  /** Tool calls by their `index`: the id and name come in the first fragment, arguments in many. */
  private readonly calls = new Map<number, CallParts>();

  event(data: unknown, raw: string): void {
    if (raw.trim() === '[DONE]') {
      this.result.complete = true;
      return;
    }
    if (!isObj(data)) return;
    if (data.error) {
      this.result.error = errorOf(data);
      return;
    }
    this.head(data);
    for (const c of Array.isArray(data.choices) ? data.choices : []) {
      if (!isObj(c)) continue;
      const d = isObj(c.delta) ? c.delta : {};
      if (typeof d.content === 'string') this.result.text += d.content;
      for (const t of Array.isArray(d.tool_calls) ? d.tool_calls : []) {
        if (!isObj(t)) continue;
        const i = typeof t.index === 'number' ? t.index : this.calls.size;
        let call = this.calls.get(i);
        if (!call) this.calls.set(i, (call = { id: '', name: '', args: [] }));
        if (typeof t.id === 'string' && t.id) call.id = t.id;
        const f = isObj(t.function) ? t.function : {};
        if (typeof f.name === 'string') call.name += f.name;
        if (typeof f.arguments === 'string') call.args.push(f.arguments);
      }
      if (typeof c.finish_reason === 'string') this.result.stopReason = c.finish_reason;
    }
  }

  body(data: unknown): void {
    if (!isObj(data)) return;
    if (data.error) {
      this.result.error = errorOf(data);
      this.result.complete = true;
      return;
    }
    this.head(data);
    for (const c of Array.isArray(data.choices) ? data.choices : []) {
      if (!isObj(c)) continue;
      const m = isObj(c.message) ? c.message : {};
      if (typeof m.content === 'string') this.result.text += m.content;
      for (const t of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
        if (!isObj(t)) continue;
        const f: Obj = isObj(t.function) ? t.function : {};
        this.calls.set(this.calls.size, { id: str(t.id) ?? '', name: str(f.name) ?? '', args: [str(f.arguments) ?? ''] });
      }
      if (typeof c.finish_reason === 'string') this.result.stopReason = c.finish_reason;
    }
    this.result.complete = true;
  }

  private head(data: Obj): void {
    this.result.id ??= str(data.id);
    this.result.model ??= str(data.model);
    const u = usageOf(data.usage);
    if (u) this.result.usage = u;
  }

  end(): void {
    for (const c of [...this.calls.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1])) {
      const inputText = c.args.join('');
      this.result.toolUses.push({ id: c.id, name: c.name, input: inputOf(inputText), inputText, kind: 'function_call', serverLabel: null });
    }
    this.calls.clear();
  }
}
