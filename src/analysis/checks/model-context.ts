import type { ConversationTurn } from '../../capture/conversation.js';
import type { McpSide } from './types.js';

/**
 * Of the MCP sessions seen around a conversation, those that belong to its client: the ones its calls
 * went to, the ones whose tools it offered (as mcp__<server>__<tool>), and the ones with no tools to
 * tell by (never connected, or listed none), which is what the model then misses.
 */
export function relevantMcpSides(turns: ConversationTurn[], candidates: McpSide[]): McpSide[] {
  const linked = new Set(turns.flatMap((t) => t.toolUses.map((u) => u.mcpCall?.session)).filter(Boolean));
  const offered = [...new Set(turns.flatMap((t) => t.toolsOffered))];
  return candidates.filter((m) => linked.has(m.session.id) || m.failed || m.tools?.length === 0 ||
    !!m.tools?.some((t) => offered.some((o) => o.endsWith('__' + t))));
}
