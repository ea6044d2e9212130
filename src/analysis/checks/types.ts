import type { Exchange, RpcMessage, Session } from '../../capture/model.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Evidence {
  sessionId: string;
  messageSeqs: number[];
  exchangeIds: string[];
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

export interface CheckInput {
  session: Session;
  messages: RpcMessage[];
  exchanges: Exchange[];
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
