import { splitClaudeName } from '../../capture/join.js';
import { conversationRule, finding, list } from './model-rules.js';
import { SPECIFIC, type ConversationContext, type Finding, type McpSide, type Severity } from './types.js';

// Tools an MCP session listed that no model turn of the conversation offered (Claude Code offers an
// MCP tool as mcp__<server>__<tool>), each with the reason the wire shows. A linked session whose list
// changed after the requests were built is one cause, told by tools-offered-stale, not again here.

/** The Anthropic API's rule for a custom tool's name. */
const NAME_LIMIT = 64;
const NAME_CHARS = /^[a-zA-Z0-9_-]+$/;
/** A tool that searches for deferred tools (Claude Code's tool search, the API's tool_search_tool_*). */
const SEARCH_TOOL = /tool.?search/i;

type Reason = 'name-rejected' | 'tool-search' | 'list-changed' | 'unexplained';

/** The Claude Code server names an MCP session goes by: from the calls it received, and from offered names whose tool part it lists. */
function serverNames(ctx: ConversationContext, side: McpSide, offered: string[]): Set<string> {
  const out = new Set<string>();
  for (const t of ctx.turns) for (const u of t.toolUses) {
    const n = splitClaudeName(u.name);
    if (n && u.mcpCall?.session === side.session.id) out.add(n.server);
  }
  for (const o of offered) {
    const n = splitClaudeName(o);
    if (n && side.tools!.includes(n.tool)) out.add(n.server);
  }
  return out;
}

const REASONS: Record<Reason, { severity: Severity; why: string; fix: string }> = {
  'name-rejected': {
    severity: 'warning',
    why: `the name the model would see breaks the API's rule for tool names (at most ${NAME_LIMIT} characters of [a-zA-Z0-9_-]), so the client cannot offer it`,
    fix: 'Rename the tool on the server (letters, digits, _ and - only), or give the server a shorter name in claude mcp add: mcp__<server>__<tool> must fit in 64 characters.',
  },
  'tool-search': {
    severity: 'info',
    why: 'the client offered a tool-search tool instead: the MCP tools are deferred and reach the model only when it searches for them',
    fix: 'Nothing to fix if the model finds them when needed; to have every MCP tool inline, start Claude Code with ENABLE_TOOL_SEARCH=false.',
  },
  'list-changed': { severity: 'warning', why: '', fix: '' },
  unexplained: {
    severity: 'warning',
    why: 'the wire shows no reason (a client-side filter, a permission rule or a disabled tool leaves no trace in the traffic)',
    fix: "Check the client's tool settings (Claude Code: /mcp shows each server's tools; permissions.deny in settings.json can hide a tool), then run /mcp to list the tools again.",
  },
};

export const toolNotOffered = conversationRule('tool-not-offered',
  'A tool the linked MCP session listed that no model turn offered (as mcp__<server>__<tool>), with the reason the wire shows: a name the API rejects, tool search, a list that changed after the request (told by tools-offered-stale).',
  { cause: 'tools', confidence: SPECIFIC.plain },
  (ctx, input) => {
    const offered = [...new Set(ctx.turns.flatMap((t) => t.toolsOffered))];
    if (!offered.length) return [];
    // A search tool offered, or results that hand the model tool references (what a search returns).
    const searching = offered.find((o) => SEARCH_TOOL.test(o))
      ?? (ctx.turns.some((t) => t.toolResults.some((r) => r.text.includes('[tool_reference]'))) ? 'tool_reference results' : undefined);
    const lastOffer = [...ctx.turns].reverse().find((t) => t.toolsOffered.length)!;
    const out: Finding[] = [];
    for (const side of ctx.mcp) {
      if (!side.tools?.length) continue;
      const linked = ctx.turns.some((t) => t.toolUses.some((u) => u.mcpCall?.session === side.session.id));
      for (const server of serverNames(ctx, side, offered)) {
        const prefix = `mcp__${server}__`;
        const offeredHere = new Set(offered.filter((o) => o.startsWith(prefix)).map((o) => o.slice(prefix.length)));
        const groups = new Map<Reason, string[]>();
        for (const tool of side.tools) {
          // A client may offer a name with its odd characters replaced (db.explain as db_explain).
          if (offeredHere.has(tool) || offeredHere.has(tool.replace(/[^a-zA-Z0-9_-]/g, '_'))) continue;
          const reason: Reason = (prefix + tool).length > NAME_LIMIT || !NAME_CHARS.test(tool) ? 'name-rejected'
            : searching ? 'tool-search'
              // tools-offered-stale compares the linked session's latest list with the last offer: its cause.
              : linked && !lastOffer.toolsOffered.includes(prefix + tool) ? 'list-changed' : 'unexplained';
          groups.set(reason, [...(groups.get(reason) ?? []), tool]);
        }
        for (const [reason, tools] of groups) {
          if (reason === 'list-changed') continue;
          const r = REASONS[reason];
          const names = tools.map((t) => prefix + t);
          out.push({
            ...finding(input, 'tool-not-offered', r.severity,
              `${tools.length} tool${tools.length > 1 ? 's' : ''} of MCP session ${side.session.id} never offered to the model: ${list(names, 3)}`, [lastOffer],
              `MCP session ${side.session.id} (${side.session.serverInfo?.name ?? '?'}) lists ${side.tools.length} tools; no turn of this conversation offered ${list(names)}`
              + `${reason === 'tool-search' ? ` (tool search: ${searching})` : ''}: ${r.why}.`,
              r.fix),
            // About the tool list as a whole, not about what happened in the turn it names.
            claims: {},
          });
        }
      }
    }
    return out;
  });
