import type { ConversationTurn } from '../../capture/conversation.js';
import { mcpToolName, splitClaudeName } from '../../capture/join.js';
import { explainToolName } from './rpc-rules.js';
import { SPECIFIC, type Cause, type CheckInput, type ConversationContext, type Finding, type McpSide, type Rule, type Severity } from './types.js';

// Rules over a model conversation (a model-api session): what the model asked for against what the
// client offered and what the MCP servers listed and answered.


const NO_SUCH_TOOL = /No such tool available/i;
/** The Anthropic API's limit on a custom tool's name. */
const NAME_LIMIT = 64;

export function finding(input: CheckInput, ruleId: string, severity: Severity, title: string, turns: ConversationTurn[], explanation: string, fix: string): Finding {
  return {
    ruleId, severity, title,
    evidence: { sessionId: input.session.id, messageSeqs: [], exchangeIds: turns.map((t) => t.exchangeId), turnSeqs: turns.map((t) => t.seq) },
    explanation, fix,
  };
}

/** A rule over a model conversation: MCP sessions have none to read. */
export function conversationRule(id: string, description: string, how: { cause: Cause; confidence: number }, check: (ctx: ConversationContext, input: CheckInput) => Finding[]): Rule {
  return { id, description, ...how, check: (input) => (input.conversation ? check(input.conversation, input) : []) };
}

export const list = (names: string[], n = 5) => names.slice(0, n).map((x) => `'${x}'`).join(', ') + (names.length > n ? `, … (${names.length} in all)` : '');

/** The result the client sent back for a tool use, in the first later turn that carries it. */
export function resultFor(turns: ConversationTurn[], from: number, id: string): { turn: ConversationTurn; isError: boolean; text: string } | null {
  for (const t of turns) {
    if (t.seq <= from) continue;
    const r = t.toolResults.find((x) => x.toolUseId === id);
    if (r) return { turn: t, ...r };
  }
  return null;
}

/** The offered name closest to the one the model used, and why they differ. */
function closestOffered(name: string, offered: string[]): { name: string | null; reason: string | null } {
  const want = splitClaudeName(name);
  if (want) {
    const sameServer = offered.map(splitClaudeName).filter((x) => x && x.server === want.server).map((x) => x!.tool);
    const why = explainToolName(want.tool, sameServer);
    if (why.suggestion) return { name: `mcp__${want.server}__${why.suggestion}`, reason: why.reason };
    const otherServer = offered.find((o) => splitClaudeName(o)?.tool === want.tool);
    if (otherServer) return { name: otherServer, reason: `the tool is offered under another server name ('${splitClaudeName(otherServer)!.server}', not '${want.server}')` };
  }
  const why = explainToolName(name, offered);
  return { name: why.suggestion ?? why.closest[0] ?? null, reason: why.reason };
}

/** What the MCP side says about a server: zero tools listed, never connected, or the names it has. */
function mcpSideLine(ctx: ConversationContext, tool: string): string {
  if (!ctx.mcp.length) return 'No MCP session was captured around this conversation (the MCP traffic may not go through mcptap).';
  const failed = ctx.mcp.filter((m) => m.failed);
  const empty = ctx.mcp.filter((m) => !m.failed && m.tools && m.tools.length === 0);
  const having = ctx.mcp.filter((m) => m.tools?.includes(tool));
  const listing = ctx.mcp.filter((m) => !m.failed && m.tools?.length);
  const parts: string[] = [];
  // The run's own sessions first: what its client was offered is where the name went wrong.
  if (having.length) parts.push(`MCP session ${having[0].session.id} (${having[0].session.serverInfo?.name ?? '?'}) does list '${tool}'.`);
  else for (const m of listing.slice(0, 2)) parts.push(`MCP session ${m.session.id} (${m.session.serverInfo?.name ?? '?'}) lists ${m.tools!.length} tools, not '${tool}': ${list(m.tools!, 4)}.`);
  for (const m of failed) parts.push(`MCP session ${m.session.id} never completed its handshake, so its tools never reached the model: see \`mcptap check ${m.session.id}\`.`);
  for (const m of empty) parts.push(`MCP session ${m.session.id} (${m.session.serverInfo?.name ?? '?'}) listed zero tools: see \`mcptap check ${m.session.id}\`.`);
  return parts.join(' ');
}

/**
 * The fix when the offered name differs from the called one by a gateway's server prefix. LiteLLM 1.77.0–1.77.3
 * (and 1.80.18 on) prefix every tool with '<server>-', also with `x-mcp-servers: db_main` or `/mcp/db_main`;
 * only 1.77.5–1.80 drop the prefix when exactly one server is selected.
 */
const PREFIX_FIX = "LiteLLM names tools '<server>-<tool>': 1.77.0–1.77.3 and 1.80.18+ always do (also with x-mcp-servers: <server> or the URL /mcp/<server>); only 1.77.5–1.80 drop the prefix when exactly one server is selected. Change the text that names the tool to the offered name, rather than expecting the gateway to drop its prefix.";

export const modelUnknownTool = conversationRule('model-unknown-tool',
  "The model called a tool the client does not have ('No such tool available'): no MCP call was sent.",
  { cause: 'tools', confidence: SPECIFIC.certain },
  (ctx, input) => {
    const out: Finding[] = [];
    for (const t of ctx.turns) {
      for (const u of t.toolUses) {
        if (u.mcpCall || (u.kind !== 'tool_use' && u.kind !== 'function_call')) continue;
        const back = resultFor(ctx.turns, t.seq, u.id);
        const refused = !!back && back.isError && NO_SUCH_TOOL.test(back.text);
        const offered = t.toolsOffered;
        if (!refused && (offered.length === 0 || offered.includes(u.name))) continue;
        const near = closestOffered(u.name, offered);
        const mcpOffered = offered.filter((o) => o.startsWith('mcp__'));
        const tool = mcpToolName(u.name);
        out.push(finding(input, 'model-unknown-tool', 'error',
          `the model called ${u.name}, which the client does not have${near.name ? ` (closest offered: ${near.name})` : ''}`,
          back ? [t, back.turn] : [t],
          `Turn ${t.seq}: the model asked for '${u.name}' (tool use ${u.id}). The request offered ${offered.length} tools, ${mcpOffered.length} from MCP servers` +
          `${mcpOffered.length ? `: ${list(mcpOffered)}` : ''}; '${u.name}' is not one of them, so no tools/call was sent` +
          `${back ? ` and the client answered the model itself in turn ${back.turn.seq}: ${back.text}` : ''}. ` +
          `${near.name ? `The closest offered name is '${near.name}'${near.reason ? `: ${near.reason}` : ''}. ` : ''}${mcpSideLine(ctx, tool)}`,
          near.name && near.reason
            ? `Use the name the client offers, '${near.name}': the model took '${u.name}' from somewhere else (an earlier conversation, CLAUDE.md, a skill or prompt that names the tool).${/lists it with the prefix/.test(near.reason ?? '') ? ' ' + PREFIX_FIX : ' Update that text.'}`
            : ctx.mcp.some((m) => m.failed || m.tools?.length === 0)
              ? `Fix the MCP server's connection first (see its findings), then run /mcp in Claude Code so the tools are listed again.`
              : `Check that the MCP server is connected (claude mcp list) and lists '${tool}'; then the model will be offered '${u.name}'.`));
      }
    }
    return out;
  });

export const toolResultMismatch = conversationRule('tool-result-mismatch',
  'The result the model got differs from what the MCP server answered (an error passed on as success, text changed), or a gateway turned an error into "Error: …" text with isError false.',
  { cause: 'tools', confidence: SPECIFIC.plain },
  (ctx, input) => {
    const out: Finding[] = [];
    for (const t of ctx.turns) {
      for (const u of t.toolUses) {
        if (!u.mcpCall || !u.result) continue;
        const back = resultFor(ctx.turns, t.seq, u.id);
        const at = `${u.mcpCall.session}:${u.mcpCall.seq}`;
        const turns = back ? [t, back.turn] : [t];
        if (back && back.isError !== u.result.isError) {
          out.push(finding(input, 'tool-result-mismatch', 'warning',
            `${u.name}: the MCP server answered ${u.result.isError ? 'isError: true' : 'success'}, the model was told ${back.isError ? 'is_error: true' : 'success'}`, turns,
            `The tools/call (${at}) answered ${u.result.isError ? 'with isError: true' : 'successfully'}, but the tool_result in turn ${back.turn.seq} says is_error: ${back.isError}. The model acts on a result that does not say what the server said.`,
            `Look at what sits between the client and the server (a gateway, a hook) rewriting results; the MCP answer is at ${at}.`));
        } else if (back && norm(back.text) !== norm(u.result.text) && !back.text.includes(u.result.text.slice(0, 200))) {
          out.push(finding(input, 'tool-result-mismatch', 'info',
            `${u.name}: the text the model got differs from the MCP server's answer`, turns,
            `The tools/call (${at}) answered '${clip(u.result.text)}', the tool_result in turn ${back.turn.seq} carried '${clip(back.text)}'.`,
            `Usually the client shortened a long result or a hook changed it; compare the two in 'mcptap show ${input.session.id}'.`));
        }
        if (!u.result.isError && /^\s*(Error|Tool call failed|Tool call blocked)\b/.test(u.result.text)) {
          out.push(finding(input, 'tool-result-mismatch', 'warning',
            `${u.name}: the MCP answer is an error text marked as success (isError: false)`, turns,
            `The tools/call (${at}) answered '${clip(u.result.text)}' with isError: false, so the model was told the call succeeded. Gateways do this (LiteLLM v1.77 wraps its own failures as text with isError: false).`,
            `Fix the failure the text names; upgrade the gateway so failures come back with isError: true.`));
        }
      }
    }
    return out;
  });

export const toolsOfferedStale = conversationRule('tools-offered-stale',
  "The tools offered to the model differ from the latest tools/list of the MCP session its calls went to (added, removed, renamed).",
  { cause: 'tools', confidence: SPECIFIC.plain },
  (ctx, input) => {
    const out: Finding[] = [];
    // The Claude Code server name each linked MCP session goes by, learned from the calls it received.
    const servers = new Map<string, string>();
    for (const t of ctx.turns) for (const u of t.toolUses) {
      const n = splitClaudeName(u.name);
      if (u.mcpCall && n) servers.set(u.mcpCall.session, n.server);
    }
    const last = [...ctx.turns].reverse().find((t) => t.toolsOffered.length);
    if (!last) return [];
    for (const [sessionId, server] of servers) {
      const side = ctx.mcp.find((m) => m.session.id === sessionId);
      if (!side?.tools) continue;
      const prefix = `mcp__${server}__`;
      const offered = new Set(last.toolsOffered.filter((o) => o.startsWith(prefix)).map((o) => o.slice(prefix.length)));
      const listed = new Set(side.tools);
      const added = [...listed].filter((x) => !offered.has(x));
      const removed = [...offered].filter((x) => !listed.has(x));
      if (!added.length && !removed.length) continue;
      out.push(finding(input, 'tools-offered-stale', 'warning',
        `the tools offered as ${prefix}* differ from MCP session ${sessionId}'s latest tools/list`, [last],
        `Turn ${last.seq} offered ${offered.size} tools of server '${server}'; MCP session ${sessionId} lists ${listed.size}.` +
        `${added.length ? ` Listed but not offered: ${list(added)}.` : ''}${removed.length ? ` Offered but no longer listed: ${list(removed)}.` : ''}`,
        `The client has not picked up the server's current tools: run /mcp in Claude Code (or restart it) so it lists them again; a server that changes its tools should send notifications/tools/list_changed.`));
      // It is about the tool list as a whole, not about what happened in the turn it names.
      out[out.length - 1].claims = {};
    }
    return out;
  });

export const toolNameTooLong = conversationRule('tool-name-too-long',
  `A tool offered with a name over ${NAME_LIMIT} characters, which the Anthropic API refuses ('tools.N.custom.name: String should have at most 64 characters').`,
  { cause: 'tools', confidence: SPECIFIC.certain },
  (ctx, input) => {
    const seen = new Set<string>();
    const out: Finding[] = [];
    for (const t of ctx.turns) {
      const long = t.toolsOffered.filter((n) => n.length > NAME_LIMIT && !seen.has(n));
      if (!long.length) continue;
      long.forEach((n) => seen.add(n));
      const n = splitClaudeName(long[0]);
      out.push(finding(input, 'tool-name-too-long', 'error',
        `${long.length} tool name${long.length > 1 ? 's' : ''} over ${NAME_LIMIT} characters: ${long[0]} (${long[0].length})`, [t],
        `Turn ${t.seq} offered ${list(long, 3)}. The Anthropic API refuses names longer than ${NAME_LIMIT} characters${t.error ? `, and it did: ${t.error.message}` : ''}. Claude Code names MCP tools mcp__<server>__<tool>, so the server name counts against the limit.`,
        n ? `Give the server a shorter name in claude mcp add (now '${n.server}', ${n.server.length} characters), or have the server (or gateway prefix) use shorter tool names.` : 'Use shorter tool names.'));
    }
    return out;
  });

const API_ERRORS: Record<string, { title: string; fix: string; severity: Severity }> = {
  authentication_error: { title: 'the model API refused the key (401)', severity: 'error', fix: 'Check the key the client sends (ANTHROPIC_API_KEY as x-api-key, ANTHROPIC_AUTH_TOKEN as Authorization: Bearer); a gateway wants its own key (LiteLLM: a virtual key), not the vendor\'s.' },
  permission_error: { title: 'the model API refused access (403)', severity: 'error', fix: 'The key is valid but not allowed this model or route: check its model list and budget on the gateway.' },
  rate_limit_error: { title: 'the model API is rate-limiting (429)', severity: 'warning', fix: 'Wait (Retry-After says how long) or raise the key\'s limits; the client retries by itself.' },
  overloaded_error: { title: 'the model API is overloaded', severity: 'warning', fix: 'A capacity problem upstream, not yours: the client retries; a gateway can fall back to another deployment.' },
  not_found_error: { title: 'the model API does not know the model or route (404)', severity: 'error', fix: 'Check the model name and the base URL (ANTHROPIC_BASE_URL without a trailing /v1).' },
  invalid_request_error: { title: 'the model API refused the request (400)', severity: 'error', fix: 'Read the message: it names the field at fault.' },
};

export const modelApiError = conversationRule('model-api-error',
  'A model API answer that is an error: refused key (401/403), rate limit (429), overloaded (529), invalid request, or a failed connection.',
  // The API's own word on what failed; a finding that says why (a name too long) tells it better.
  { cause: 'reachability', confidence: SPECIFIC.generic },
  (ctx, input) => {
    const groups = new Map<string, ConversationTurn[]>();
    for (const t of ctx.turns) {
      if (!t.error || t.error.type === 'aborted') continue;
      const g = groups.get(t.error.type);
      if (g) g.push(t);
      else groups.set(t.error.type, [t]);
    }
    return [...groups].map(([type, turns]) => {
      const known = API_ERRORS[type];
      const e = turns[0].error!;
      const count = turns.length > 1 ? ` (${turns.length} turns)` : '';
      return finding(input, 'model-api-error', known?.severity ?? 'error', `${known?.title ?? `the model API answered ${type}`}${count}`, turns,
        `Turn ${turns[0].seq} (${turns[0].api}${e.status ? `, HTTP ${e.status}` : ''}): ${e.type}: ${e.message || '(no message)'}.`,
        known?.fix ?? (type === 'connection' ? 'The proxy could not reach the model API: check the --target URL.' : 'Read the message the API gave.'));
  });
  });

const norm = (s: string) => s.replace(/\s+/g, ' ').trim();
const clip = (s: string) => (norm(s).length > 120 ? norm(s).slice(0, 119) + '…' : norm(s));

export const MODEL_RULES: Rule[] = [modelUnknownTool, toolNameTooLong, modelApiError, toolResultMismatch, toolsOfferedStale];

