import { diffToolSurface, toolSurface, type ToolInfo, type ToolRename } from '../analysis/tools.js';
import type { Recording } from './recording.js';

// A session replayed against another server in front of the same tools (a gateway that prefixes names,
// or the server straight after a gateway) lists them under other names. A client calls the names the live
// server listed, so the replay does too: once the live tools/list has come, each recorded tools/call of a
// renamed tool goes out under its live name, and the rename is reported.

export class ToolNames {
  private readonly recorded: ToolInfo[] | null;
  private live: ToolInfo[] = [];
  private renames = new Map<string, string>();
  /** Each rename the replay applied, once, in the order first used. */
  readonly applied: ToolRename[] = [];

  constructor(rec: Recording) {
    this.recorded = toolSurface(rec.messages);
  }

  /** A message from the live server: a tools/list result (any page) teaches the live names. */
  learn(value: unknown): void {
    const tools = (value as { result?: { tools?: unknown } } | null)?.result?.tools;
    if (!this.recorded || !Array.isArray(tools) || !tools.every((t) => typeof (t as ToolInfo)?.name === 'string')) return;
    this.live = [...this.live.filter((t) => !tools.some((x) => (x as ToolInfo).name === t.name)), ...(tools as ToolInfo[])];
    this.renames = new Map(diffToolSurface(this.recorded, this.live).renamed.map((r) => [r.from, r.to]));
  }

  /** The body with each tools/call of a renamed tool under its live name (the text as recorded when none is). */
  rewrite(text: string): string {
    if (!this.renames.size || !text.includes('tools/call')) return text;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return text;
    }
    let changed = false;
    for (const m of Array.isArray(body) ? body : [body]) {
      const params = (m as { method?: unknown; params?: { name?: unknown } } | null)?.method === 'tools/call' ? (m as { params?: { name?: unknown } }).params : undefined;
      const to = typeof params?.name === 'string' ? this.renames.get(params.name) : undefined;
      if (!params || !to) continue;
      if (!this.applied.some((r) => r.from === params.name)) this.applied.push({ from: params.name as string, to });
      params.name = to;
      changed = true;
    }
    return changed ? JSON.stringify(body) : text;
  }
}
