import type { Exchange, RpcMessage, Session } from '../../model/model.js';
import type { StreamFacts } from '../../capture/streams.js';
import type { ConversationTurn } from '../../capture/conversation.js';
import type { TurnContextCost } from '../context-cost.js';

export type Severity = 'error' | 'warning' | 'info';

/**
 * The layer a finding's cause sits in, most upstream first: findings are listed in this order, and it
 * breaks ties between equally specific causes claiming the same evidence.
 */
export const CAUSES = ['reachability', 'transport', 'access', 'session', 'protocol', 'tools', 'other'] as const;
export type Cause = (typeof CAUSES)[number];

/** How specific a finding is about what it explains (0..1): the engine gives shared evidence to the most specific. */
export const SPECIFIC = { certain: 0.9, likely: 0.7, plain: 0.5, generic: 0.3, fallback: 0.1 } as const;

/** The exchanges, messages and turns a finding explains (its claim on the evidence). */
export interface Claims {
  exchangeIds?: string[];
  messageSeqs?: number[];
  turnSeqs?: number[];
}

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
  /** What it explains, when narrower than its evidence (a message on a stream, not the whole stream). Default: the evidence. */
  claims?: Claims;
  /** How specific it is (SPECIFIC); default: its rule's. */
  confidence?: number;
  /** Set by the engine: its rule's cause category. */
  cause?: Cause;
  /** Set by the engine: the same finding seen this many times (identical exchanges), its evidence merged. */
  occurrences?: number;
  /** Set by the engine: the findings whose evidence this one explains, told under it instead of on their own. */
  caused?: Finding[];
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
  /** Each turn's context cost, in turn order (read from the store; absent in live checks). */
  costs?: TurnContextCost[];
}

export interface CheckInput {
  session: Session;
  messages: RpcMessage[];
  exchanges: Exchange[];
  /** The recorded stream facts (the database's, a recording's); absent, the stream rules derive them from the exchanges. */
  streams?: StreamFacts[];
  /** For a model-api session. */
  conversation?: ConversationContext;
}

export interface CheckOptions {
  /** Tool calls slower than this are reported (ms). */
  slowMs: number;
  /** Running while traffic flows: a request still waiting may yet be answered. */
  live?: boolean;
  /** When live: the time now (epoch ms). */
  now?: number;
  /** `tools-context-cost` warns when MCP tool definitions take more than this share (0..1) of a request. */
  toolsShare?: number;
}

export interface Rule {
  id: string;
  /** What the rule looks for, for `--help`, SARIF rule metadata and JUnit test names. */
  description: string;
  /** The layer its findings' causes sit in (default 'other'). */
  cause?: Cause;
  /** How specific its findings are (SPECIFIC; default plain), unless a finding says otherwise. */
  confidence?: number;
  check(input: CheckInput, opts: CheckOptions): Finding[];
}
