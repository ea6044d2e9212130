import {
  contentText, isObj, str,
  type ModelApi, type ModelRequest, type RequestMcpServer, type ToolResultBlock,
} from './types.js';

type Obj = Record<string, unknown>;

/** What a model API request says: tools offered, results sent back, MCP servers, model. Pure. */
export function decodeModelRequest(api: ModelApi, body: unknown): ModelRequest {
  const b: Obj = isObj(body) ? body : {};
  const tools = Array.isArray(b.tools) ? b.tools : null;
  const items = api === 'openai-responses' ? responsesInput(b.input) : Array.isArray(b.messages) ? b.messages : [];
  const req: ModelRequest = {
    api,
    model: str(b.model),
    stream: b.stream === true,
    tools,
    toolNames: (tools ?? []).map(toolName).filter((n): n is string => n != null),
    system: null,
    toolResults: [],
    mcpServers: [],
    messageCount: items.length,
    firstMessage: items.length ? JSON.stringify(items[0]) : null,
    previousResponseId: str(b.previous_response_id),
  };
  if (api === 'anthropic-messages' || api === 'anthropic-count-tokens') {
    if (b.system != null) req.system = JSON.stringify(b.system);
    req.toolResults = anthropicResults(items);
    if (Array.isArray(b.mcp_servers)) req.mcpServers = b.mcp_servers.filter(isObj).map((s) => ({ name: str(s.name) ?? '', url: str(s.url) }));
  } else if (api === 'openai-chat') {
    const sys = items.filter((m) => isObj(m) && (m.role === 'system' || m.role === 'developer'));
    if (sys.length) req.system = JSON.stringify(sys.map((m) => (m as Obj).content));
    req.toolResults = trailing(items, (m) => m.role === 'tool')
      .map((m) => ({ toolUseId: str(m.tool_call_id) ?? '', isError: false, text: contentText(m.content) }));
  } else {
    if (b.instructions != null) req.system = JSON.stringify(b.instructions);
    req.toolResults = trailing(items, (m) => m.type === 'function_call_output' || m.type === 'function_call')
      .filter((m) => m.type === 'function_call_output')
      .map((m) => ({ toolUseId: str(m.call_id) ?? '', isError: false, text: contentText(m.output) }));
    req.mcpServers = (tools ?? []).filter((t): t is Obj => isObj(t) && t.type === 'mcp')
      .map((t): RequestMcpServer => ({ name: str(t.server_label) ?? '', url: str(t.server_url) }));
  }
  return req;
}

/** The items at the end of the history that match: the results this request is the first to carry. */
function trailing(items: unknown[], match: (m: Obj) => boolean): Obj[] {
  let i = items.length;
  while (i > 0 && isObj(items[i - 1]) && match(items[i - 1] as Obj)) i--;
  return items.slice(i) as Obj[];
}

function responsesInput(input: unknown): unknown[] {
  if (Array.isArray(input)) return input;
  return input == null ? [] : [input];
}

/** A tool's name: Anthropic and Responses give it at the top, Chat Completions under `function`. */
function toolName(t: unknown): string | null {
  if (!isObj(t)) return null;
  if (typeof t.name === 'string') return t.name;
  if (isObj(t.function) && typeof t.function.name === 'string') return t.function.name;
  if (t.type === 'mcp' && typeof t.server_label === 'string') return `mcp:${t.server_label}`;
  return null;
}

function anthropicResults(messages: unknown[]): ToolResultBlock[] {
  // Only the last message's results are new: earlier ones are history the request repeats.
  const last = messages[messages.length - 1];
  if (!isObj(last) || !Array.isArray(last.content)) return [];
  return last.content.filter((c): c is Obj => isObj(c) && (c.type === 'tool_result' || c.type === 'mcp_tool_result'))
    .map((c) => ({ toolUseId: str(c.tool_use_id) ?? '', isError: c.is_error === true, text: contentText(c.content) }));
}
