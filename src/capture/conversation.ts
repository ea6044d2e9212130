import type { Session } from '../model/model.js';
import type { ToolResultBlock, Turn, TurnError } from './turn.js';
import { linkToolUses, type LinkedBy, type McpCall, type McpResult } from './join.js';

// A conversation as people read it: turns with each tool use joined to the MCP call it caused.

export interface ConversationToolUse {
  id: string;
  name: string;
  input: unknown;
  kind: Turn['toolUses'][number]['kind'];
  mcpCall: { session: string; seq: number } | null;
  linkedBy: LinkedBy | null;
  /** The MCP server's answer to the linked call. */
  result: { isError: boolean; text: string } | null;
}

export interface ConversationTurn {
  seq: number;
  ts: number;
  endedAt: number | null;
  api: Turn['api'];
  model: string | null;
  stream: boolean;
  status: number | null;
  stopReason: string | null;
  usage: Record<string, number> | null;
  toolsOffered: string[];
  toolsHash: string | null;
  systemHash: string | null;
  toolUses: ConversationToolUse[];
  toolResults: ToolResultBlock[];
  serverResults: ToolResultBlock[];
  error: TurnError | null;
  text: string;
  exchangeId: string;
}

export interface Conversation {
  session: Session;
  turns: ConversationTurn[];
}

/** A tool use's link as a conversation shows it: the call, how it was linked, and the call's answer. */
export interface UseLink {
  session: string;
  seq: number;
  by: LinkedBy;
  result: McpResult | null;
}

/** Turns joined to the MCP calls given (from live capture windows, or a database from before stored links). */
export function joinTurns(turns: Turn[], toolNames: (t: Turn) => string[], calls: McpCall[]): ConversationTurn[] {
  const links = linkToolUses(turns, calls);
  return linkedTurns(turns, toolNames, (id) => {
    const l = links.get(id);
    return l && { session: l.call.sessionId, seq: l.call.seq, by: l.by, result: l.call.result };
  });
}

/** Turns as people read them, each tool use with the link `linkOf` gives for its id. */
export function linkedTurns(turns: Turn[], toolNames: (t: Turn) => string[], linkOf: (toolUseId: string) => UseLink | undefined): ConversationTurn[] {
  return turns.map((t): ConversationTurn => ({
    seq: t.seq, ts: t.ts, endedAt: t.endedAt, api: t.api, model: t.model, stream: t.stream, status: t.status,
    stopReason: t.stopReason, usage: t.usage, toolsOffered: toolNames(t), toolsHash: t.toolsHash, systemHash: t.systemHash,
    toolUses: t.toolUses.map((u) => {
      const l = linkOf(u.id);
      return {
        id: u.id, name: u.name, input: u.input, kind: u.kind,
        mcpCall: l ? { session: l.session, seq: l.seq } : null, linkedBy: l?.by ?? null,
        result: l?.result ? { isError: l.result.isError, text: l.result.text } : null,
      };
    }),
    toolResults: t.toolResults, serverResults: t.serverResults, error: t.error, text: t.text, exchangeId: t.exchangeId,
  }));
}
