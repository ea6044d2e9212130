import { acceptHeader, auth, endpointRewrite, httpStatus, oauthResource, redirect, transportMismatch, upstreamFailure } from './http-rules.js';
import { gatewayAuth, gatewayServers, gatewayToolError, gatewayUpstream } from './gateway-rules.js';
import { invalidJsonRpc, rpcErrors, toolErrors, unanswered, unknownTool } from './rpc-rules.js';
import { ordering, protocolVersion, sessionHeader } from './session-rules.js';
import { MODEL_RULES } from './model-rules.js';
import { toolsContextCost } from './context-rules.js';
import { toolResultCut } from './result-rules.js';
import { toolNotOffered } from './offered-rules.js';
import { STREAM_RULES } from './stream-rules.js';
import { mcpHeaders, noBackChannel } from './rev2026-rules.js';
import type { CheckInput, CheckOptions, Finding, Rule } from './types.js';
import { fold, stamp } from './fold.js';
import { clientTlsRefused, upstreamTls } from './tls-rules.js';

export type { Cause, CheckInput, CheckOptions, Claims, Finding, Rule, Severity } from './types.js';

/** Every rule, grouped by the cause it names (the order of `--help`, SARIF and JUnit; findings are ordered by fold.ts). */
export const RULES: Rule[] = [
  upstreamTls, upstreamFailure, gatewayUpstream,
  transportMismatch, redirect, acceptHeader, endpointRewrite, mcpHeaders,
  auth, oauthResource, gatewayAuth, gatewayServers, clientTlsRefused,
  sessionHeader, protocolVersion, ordering, invalidJsonRpc, unanswered, noBackChannel, rpcErrors,
  unknownTool, toolErrors, gatewayToolError,
  httpStatus,
  ...STREAM_RULES, ...MODEL_RULES, toolResultCut, toolNotOffered, toolsContextCost,
];

/** The rules over a model conversation (a model-api session); forward mode's TLS faults too (a model API reached through a tunnel). */
export const CONVERSATION_RULES: Rule[] = [upstreamTls, clientTlsRefused, ...MODEL_RULES, toolResultCut, toolNotOffered, toolsContextCost];

export const DEFAULT_SLOW_MS = 5000;

/**
 * Runs every rule over one session and returns the root causes, each with the findings it explains
 * folded under it (`caused`); a rule that throws is reported as a finding, never fatal.
 */
export function runChecks(input: CheckInput, opts: Partial<CheckOptions> = {}): Finding[] {
  const o: CheckOptions = { slowMs: opts.slowMs ?? DEFAULT_SLOW_MS, live: opts.live, now: opts.now, toolsShare: opts.toolsShare };
  const out: Finding[] = [];
  // A model conversation carries no MCP: the MCP rules would read its HTTP errors as an MCP server's.
  const rules = input.session.transport === 'model-api' ? CONVERSATION_RULES : RULES;
  for (const rule of rules) {
    try {
      for (const f of rule.check(input, o)) out.push(stamp(rule, f));
    } catch (err) {
      out.push({ cause: 'other', confidence: 0,
        ruleId: rule.id, severity: 'warning', title: `rule ${rule.id} could not run: ${(err as Error).message}`,
        evidence: { sessionId: input.session.id, messageSeqs: [], exchangeIds: [] },
        explanation: 'A bug in mcptap, not in your traffic.', fix: 'Please report it with `mcptap export` of this session.',
      });
    }
  }
  return fold(out);
}
