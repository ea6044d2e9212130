// What each pinned LiteLLM does on the wire, as the interop tests observed it (and assert it): the verified
// form of /work/shared/LITELLM.md's facts. A new pin gets its own row after a run against it.

export interface LiteLLMFacts {
  /** Content type of an MCP POST answer. */
  mcpContentType: RegExp;
  /** initialize is answered with an Mcp-Session-Id (stateful). */
  issuesSessionId: boolean;
  /** POST /mcp (no trailing slash). */
  bareMcpStatus: number;
  /** tools/list with one server selected prefixes names with `<server>-`. */
  singleServerPrefixed: boolean;
  /** POST /<server>/mcp. */
  serverSlashMcpStatus: number;
  /** tools/list with an x-mcp-servers value that matches no server. */
  unknownServerStatus: number;
  /** tools/list at /mcp/<no such server>. */
  unknownPathServerStatus: number;
  /** The JSON-RPC error an unknown server gets, or null: the version falls back to every server. */
  unknownServerError: RegExp | null;
  /** isError of a tool that raised upstream (FastMCP answers isError true). */
  raisedToolIsError: boolean;
  unknownToolText: RegExp;
  unknownToolIsError: boolean;
  /** The answer text of tools/call `echo` (unprefixed) with x-mcp-servers: db_main. */
  unprefixedCallText: RegExp;
  /** JSON-RPC error code for prompts/list (no handler), or null when answered. */
  promptsListError: number | null;
  badKeyMcpStatus: number;
  badKeyMcpBody: RegExp;
  /** x-litellm-api-key without the `Bearer ` prefix. */
  rawKeyMcpStatus: number;
  /** x-litellm-mcp-debug: true is answered with x-mcp-debug-* headers. */
  answersDebugHeaders: boolean;
  /** GET /mcp/ accepting anything (a plain curl). */
  plainGetStatus: number;
}

const FACTS: Record<string, LiteLLMFacts> = {
  '1.77.3': {
    mcpContentType: /^application\/json/,
    issuesSessionId: false,
    bareMcpStatus: 307,
    singleServerPrefixed: true,
    serverSlashMcpStatus: 404,
    unknownServerStatus: 200,
    unknownPathServerStatus: 200,
    unknownServerError: null,
    raisedToolIsError: false,
    unknownToolText: /^Error: Tool 'nosuch' not found$/,
    unknownToolIsError: false,
    // Routed to db_main by the selection, although the name is unprefixed.
    unprefixedCallText: /^db_main: x$/,
    promptsListError: -32601,
    badKeyMcpStatus: 500,
    badKeyMcpBody: /^\{"error":"MCP request failed","details":""\}$/,
    rawKeyMcpStatus: 500,
    plainGetStatus: 406,
    answersDebugHeaders: false,
  },
  '1.108.7': {
    mcpContentType: /^text\/event-stream/,
    issuesSessionId: true,
    bareMcpStatus: 200,
    singleServerPrefixed: true,
    serverSlashMcpStatus: 200,
    unknownServerStatus: 200,
    unknownPathServerStatus: 200,
    unknownServerError: /^The key is not allowed to access the requested MCP servers: /,
    raisedToolIsError: true,
    unknownToolText: /^Error: Tool 'nosuch' not found$/,
    unknownToolIsError: true,
    unprefixedCallText: /^db_main: x$/,
    promptsListError: null,
    badKeyMcpStatus: 400,
    badKeyMcpBody: /^\{"detail":"No connected db\."\}$/,
    rawKeyMcpStatus: 200,
    plainGetStatus: 200,
    answersDebugHeaders: true,
  },
};

export function factsFor(version: string): LiteLLMFacts {
  const f = FACTS[version];
  if (!f) throw new Error(`interop: no facts recorded for LiteLLM ${version} in test/interop/facts.ts`);
  return f;
}
