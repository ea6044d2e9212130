import type { Exchange, RpcMessage, Session } from '../../capture/model.js';
import type { ConversationTurn } from '../../capture/conversation.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Evidence {
  sessionId: string;
  messageSeqs: number[];
  exchangeIds: string[];
  /** Turns of a model-api conversation. */
  turnSeqs?: number[];
}

export interface Finding {
  ruleId: string;
  severity: Severity;
  /** One line. */
  title: string;
  evidence: Evidence;
  /** What happened, in plain words. */
  explanation: string;
  /** What to do: the header to send, the URL to use, the `claude mcp add` line to run. */
  fix: string;
}

/** An MCP session seen around a conversation: what it last listed, and whether it ever connected. */
export interface McpSide {
  session: Session;
  /** Names in its latest tools/list answer, or null when it listed none. */
  tools: string[] | null;
  /** It never completed initialize (refused, unreachable, wrong transport): its own findings say why. */
  failed: boolean;
}

/** What the model-* rules read: the conversation's turns, joined to MCP calls, and the MCP side around it. */
export interface ConversationContext {
  turns: ConversationTurn[];
  mcp: McpSide[];
}

export interface CheckInput {
  session: Session;
  messages: RpcMessage[];
  exchanges: Exchange[];
  /** For a model-api session. */
  conversation?: ConversationContext;
}

export interface CheckOptions {
  /** Tool calls slower than this are reported (ms). */
  slowMs: number;
  /** Running while traffic flows: requests still waiting are not yet "unanswered". */
  live?: boolean;
  /** When live: the time now (epoch ms). */
  now?: number;
}

export interface Rule {
  id: string;
  /** What the rule looks for, for `--help`, SARIF rule metadata and JUnit test names. */
  description: string;
  check(input: CheckInput, opts: CheckOptions): Finding[];
}
