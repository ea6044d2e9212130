import { approxTokens } from '../context-cost.js';
import { SPECIFIC, type Rule } from './types.js';

// What MCP tool definitions cost the model's context, read from each turn's measured request.

/** The share of a request MCP tool definitions may take before `check` warns (`--tools-share`). */
export const DEFAULT_TOOLS_SHARE = 0.2;

/** Below this many (estimated) tokens of MCP tools, a share is no cost worth telling (a toy request of three tools). */
export const MIN_MCP_TOKENS = 500;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export const toolsContextCost: Rule = {
  id: 'tools-context-cost',
  description: `MCP tool definitions take more than a share of a model request (--tools-share, default ${100 * DEFAULT_TOOLS_SHARE}%; at least ${MIN_MCP_TOKENS} tokens): the heaviest servers and tools.`,
  cause: 'tools',
  confidence: SPECIFIC.plain,
  check(input, opts) {
    const costs = input.conversation?.costs ?? [];
    const limit = opts.toolsShare ?? DEFAULT_TOOLS_SHARE;
    // Tools are resent on every turn while the messages grow: the first request over the limit is the
    // one to tell, and every such turn is its evidence.
    const mcpTokens = (c: (typeof costs)[number]) => c.parts.filter((p) => p.kind === 'mcp-server').reduce((n, p) => n + p.tokens, 0);
    const over = costs.filter((c) => c.requestBytes > 0 && c.mcpShare > limit && mcpTokens(c) >= MIN_MCP_TOKENS);
    if (!over.length) return [];
    const c = over[0];
    const servers = c.parts.filter((p) => p.kind === 'mcp-server');
    const heavy = c.heaviestTools.slice(0, 3).map((t) => `${t.name} (${approxTokens(t.tokens)} tokens)`).join(', ');
    return [{
      ruleId: 'tools-context-cost', severity: 'warning',
      title: `MCP tool definitions take ${pct(c.mcpShare)} of turn ${c.turn}'s request (over ${pct(limit)}): ${servers.slice(0, 2).map((p) => `${p.name} ${p.tools} tools ${approxTokens(p.tokens)} tokens`).join(', ')}`,
      evidence: { sessionId: input.session.id, messageSeqs: [], exchangeIds: [], turnSeqs: over.map((x) => x.turn) },
      explanation: `Turn ${c.turn}'s request was ${c.requestBytes} bytes${c.usageTokens != null ? ` (${c.usageTokens} input tokens by the API's count)` : ''}; `
        + `the tools of ${servers.length} MCP server${servers.length === 1 ? '' : 's'} took ${approxTokens(mcpTokens(c))} tokens of it (estimated: ${c.estimatedBy === 'usage-ratio' ? "the API's usage spread by bytes" : `${c.bytesPerToken} bytes per token`}): `
        + `${servers.map((p) => `${p.name} ${p.tools} tools ${pct(p.bytes / c.requestBytes)}`).join(', ')}. Heaviest tools: ${heavy}. `
        + `They are resent on every turn (${over.length} of ${costs.length} turns over the limit), leaving less room for the conversation.`,
      fix: `Offer fewer tools (disable servers or tools you do not use in this project: claude mcp remove, or the server's own tool filter), `
        + `let the client load them on demand (Claude Code's tool search: ENABLE_TOOL_SEARCH=true when ANTHROPIC_BASE_URL points elsewhere), `
        + `or shorten the heaviest tools' descriptions and schemas. Raise the threshold with --tools-share if this is what you want.`,
      // About the tool list as a whole, not about what happened in the turns it names.
      claims: {},
    }];
  },
};
