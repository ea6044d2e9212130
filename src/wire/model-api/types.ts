// What the model-API decoders read off the wire. Pure data: the capture side turns it into turns.

/** The model APIs people put behind a gateway, named by their wire shape. */
export type ModelApi = 'anthropic-messages' | 'anthropic-count-tokens' | 'openai-chat' | 'openai-responses';

/** A result the client sent back to the model (`tool_result`, `role: "tool"`, `function_call_output`). */
export interface ToolResultBlock {
  toolUseId: string;
  isError: boolean;
  /** The result's text (text blocks joined; other blocks named in brackets). */
  text: string;
}

/** An MCP server the request asks the API itself to call (Anthropic's MCP connector, Responses `type: "mcp"`). */
export interface RequestMcpServer {
  name: string;
  url: string | null;
}

export interface ModelRequest {
  api: ModelApi;
  model: string | null;
  stream: boolean;
  /** The `tools` array as sent (null when absent). */
  tools: unknown[] | null;
  /** Names of the tools offered, in order. */
  toolNames: string[];
  /** The system prompt or instructions as JSON text (string or blocks), null when absent. */
  system: string | null;
  toolResults: ToolResultBlock[];
  mcpServers: RequestMcpServer[];
  /** Items in `messages` (or `input`). */
  messageCount: number;
  /** The first message as JSON text: a conversation resends it on every turn. */
  firstMessage: string | null;
  previousResponseId: string | null;
}

export type ToolUseKind = 'tool_use' | 'server_tool_use' | 'mcp_tool_use' | 'function_call' | 'mcp_call';

/** A tool the model asked for (or, for server-side kinds, a call the API made itself). */
export interface ToolUse {
  id: string;
  name: string;
  /** The parsed input; the raw text when it does not parse. */
  input: unknown;
  /** The input as streamed or sent (JSON text). */
  inputText: string;
  kind: ToolUseKind;
  /** MCP server label of a server-side call (`mcp_tool_use`, `mcp_call`). */
  serverLabel: string | null;
}

export interface ApiError {
  type: string;
  message: string;
}

/** A server-side tool listing (`mcp_list_tools`, LiteLLM's `mcp_tools_fetched`). */
export interface McpListing {
  serverLabel: string;
  tools: string[];
  error: string | null;
}

export interface ModelResponse {
  id: string | null;
  model: string | null;
  /** The assistant's text, joined. */
  text: string;
  stopReason: string | null;
  usage: Record<string, number> | null;
  toolUses: ToolUse[];
  /** Results of calls the API or gateway made itself (`mcp_tool_result`, `mcp_call` output, LiteLLM's results). */
  serverResults: ToolResultBlock[];
  mcpListings: McpListing[];
  error: ApiError | null;
  /** The stream (or body) reached its end marker (`message_stop`, `[DONE]`, `response.completed`). */
  complete: boolean;
}

export function emptyResponse(): ModelResponse {
  return { id: null, model: null, text: '', stopReason: null, usage: null, toolUses: [], serverResults: [], mcpListings: [], error: null, complete: false };
}

/** JSON text parsed, or undefined. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Tool input from its JSON text: parsed, `{}` when empty, the text itself when broken. */
export function inputOf(text: string): unknown {
  if (text.trim() === '') return {};
  const v = parseJson(text);
  return v === undefined ? text : v;
}

type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Text of content given as a string or as blocks (`text` / `output_text` / `input_text`); other blocks in brackets. */
export function contentText(c: unknown): string {
  if (typeof c === 'string') return c;
  if (!Array.isArray(c)) return c == null ? '' : JSON.stringify(c);
  return c.map((b) => {
    if (!isObj(b)) return String(b);
    if (typeof b.text === 'string') return b.text;
    return `[${String(b.type ?? 'block')}]`;
  }).join('\n');
}

/** Token counts of a usage object (numbers only; nested details left out). */
export function usageOf(v: unknown): Record<string, number> | null {
  if (!isObj(v)) return null;
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(v)) if (typeof n === 'number') out[k] = n;
  return Object.keys(out).length ? out : null;
}

export function errorOf(v: unknown): ApiError | null {
  if (!isObj(v)) return null;
  const e = isObj(v.error) ? v.error : v;
  const message = str(e.message) ?? (typeof v.error === 'string' ? v.error : null);
  if (message == null && !str(e.type) && !str(e.code)) return null;
  const type = (e.type !== 'error' ? str(e.type) : null) ?? str(e.code) ?? str(e.type) ?? 'error';
  return { type, message: message ?? '' };
}
