import { acceptHeader, auth, endpointRewrite, httpStatus, oauthResource, redirect, transportMismatch, upstreamFailure } from './http-rules.js';
import { gatewayAuth, gatewayServers, gatewayToolError, gatewayUpstream } from './gateway-rules.js';
import { invalidJsonRpc, rpcErrors, toolErrors, unanswered, unknownTool } from './rpc-rules.js';
import { ordering, protocolVersion, sessionHeader } from './session-rules.js';
import { MODEL_RULES } from './model-rules.js';
import { STREAM_RULES } from './stream-rules.js';
import type { CheckInput, CheckOptions, Finding, Rule } from './types.js';

export type { CheckInput, CheckOptions, Finding, Rule, Severity } from './types.js';

/** Every rule, in the order findings are listed. */
export const RULES: Rule[] = [
  acceptHeader, unknownTool, redirect, transportMismatch, sessionHeader, protocolVersion, auth, gatewayAuth, oauthResource,
  gatewayServers, gatewayUpstream, gatewayToolError,
  endpointRewrite, unanswered, invalidJsonRpc, ordering, rpcErrors, toolErrors, upstreamFailure, httpStatus,
  ...STREAM_RULES, ...MODEL_RULES,
];

export const DEFAULT_SLOW_MS = 5000;
const ORDER = { error: 0, warning: 1, info: 2 } as const;

/** Runs every rule over one session; a rule that throws is reported as a finding, never fatal. */
export function runChecks(input: CheckInput, opts: Partial<CheckOptions> = {}): Finding[] {
  const o: CheckOptions = { slowMs: opts.slowMs ?? DEFAULT_SLOW_MS, live: opts.live, now: opts.now };
  const out: Finding[] = [];
  // A model conversation carries no MCP: the MCP rules would read its HTTP errors as an MCP server's.
  const rules = input.session.transport === 'model-api' ? MODEL_RULES : RULES;
  for (const rule of rules) {
    try {
      out.push(...rule.check(input, o));
    } catch (err) {
      out.push({
        ruleId: rule.id, severity: 'warning', title: `rule ${rule.id} could not run: ${(err as Error).message}`,
        evidence: { sessionId: input.session.id, messageSeqs: [], exchangeIds: [] },
        explanation: 'A bug in mcptap, not in your traffic.', fix: 'Please report it with `mcptap export` of this session.',
      });
    }
  }
  return out.sort((a, b) => ORDER[a.severity] - ORDER[b.severity] || (a.evidence.messageSeqs[0] ?? 0) - (b.evidence.messageSeqs[0] ?? 0));
}
