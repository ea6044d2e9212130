import type { Attributes } from '@opentelemetry/api';
import type { Failure, RpcMessage, Session } from '../model/model.js';
import { ATTR, ERROR_TYPE, OPERATION } from './semconv.js';
import { evidenceKey, serverOf, spanIds, type Place, type TelemetrySpan } from './span.js';

/** An MCP request with what answered it, as one span reads it (live or from the store). */
export interface McpPair {
  session: Session;
  request: RpcMessage;
  response: RpcMessage | null;
  /** When nothing answered: why (the exchange's failure), and when it was given up on. */
  failure?: Failure | null;
  /** The HTTP status of the exchange that carried the request, when no JSON-RPC answer came. */
  httpStatus?: number | null;
  endedAt?: number | null;
}

/** The MCP requests mcptap makes spans of: requests either way (notifications and log lines are not operations). */
export const isOperation = (m: RpcMessage) => m.kind === 'request' && m.method != null;

/** The first revision with no session: `mcp.session.id` is never set for it (mcp.md; the revision has none). */
const STATELESS_FROM = '2026-07-28';

/** JSON of a payload, or null when it was cut short or is not JSON. */
export function parsePayload(m: RpcMessage | null): any {
  if (!m || m.truncated) return null;
  try {
    return JSON.parse(m.payload);
  } catch {
    return null;
  }
}

/** The span's name (mcp.md): `{mcp.method.name} {target}`, target the tool or prompt name, never a URI. */
export function mcpSpanName(method: string, subject: string | null): string {
  return (method === 'tools/call' || method === 'prompts/get') && subject ? `${method} ${subject}` : method;
}

/** The low-cardinality attributes a span and the duration histogram share. */
export function mcpAttributes(session: Session, request: RpcMessage): Attributes {
  const method = request.method ?? '';
  const a: Attributes = { [ATTR.mcpMethodName]: method };
  if (method === 'tools/call' && request.subject) {
    a[ATTR.genAiToolName] = request.subject;
    a[ATTR.genAiOperationName] = OPERATION.executeTool;
  }
  if (method === 'prompts/get' && request.subject) a[ATTR.genAiPromptName] = request.subject;
  if (session.protocolVersion) a[ATTR.mcpProtocolVersion] = session.protocolVersion;
  if (session.transport === 'stdio') a[ATTR.networkTransport] = 'pipe';
  else {
    a[ATTR.networkTransport] = 'tcp';
    a[ATTR.networkProtocolName] = session.transport === 'websocket' ? 'websocket' : 'http';
    Object.assign(a, serverOf(session.target));
  }
  return a;
}

/** What failed, as `error.type` and a status description; null when the call succeeded. */
export function mcpError(pair: McpPair): { type: string; message: string } | null {
  const r = pair.response;
  if (r?.kind === 'error') {
    const msg = parsePayload(r)?.error?.message;
    return { type: r.errorCode != null ? String(r.errorCode) : ERROR_TYPE.other, message: typeof msg === 'string' ? msg : '' };
  }
  if (r && r.isError) {
    const content = parsePayload(r)?.result?.content;
    const text = Array.isArray(content) ? content.map((c: { text?: unknown }) => (typeof c?.text === 'string' ? c.text : '')).join(' ').trim() : '';
    return { type: ERROR_TYPE.toolError, message: text.slice(0, 200) };
  }
  if (r) return null;
  // No answer at all: the exchange says why when it knows (refused, cut, the client left).
  const f = pair.failure;
  if (f) return { type: f.kind, message: 'message' in f ? f.message : 'detail' in f ? f.detail : f.kind };
  // An HTTP refusal with no JSON-RPC answer the tracker could pair: the status is the error (semconv's `500` form).
  if (pair.httpStatus != null && pair.httpStatus >= 400) return { type: String(pair.httpStatus), message: `HTTP ${pair.httpStatus}` };
  return { type: 'no_response', message: 'no response was seen' };
}

/**
 * One MCP request/response pair as a CLIENT span (mcp.md "Client"): the wire's times, from the request
 * leaving the client to its answer arriving. Arguments and results only when `payloads` is on (they are
 * the stored, redacted payloads).
 */
export function mcpSpan(pair: McpPair, place: Place, opts: { payloads?: boolean } = {}): TelemetrySpan {
  const { session, request, response } = pair;
  const a = mcpAttributes(session, request);
  if (request.rpcId != null) a[ATTR.jsonrpcRequestId] = String(request.rpcId);
  if (session.mcpSessionId && session.transport !== 'stdio' && !(session.protocolVersion && session.protocolVersion >= STATELESS_FROM)) {
    a[ATTR.mcpSessionId] = session.mcpSessionId;
  }
  if (response?.kind === 'error' && response.errorCode != null) a[ATTR.rpcResponseStatusCode] = String(response.errorCode);
  if (request.method?.startsWith('resources/') && request.subject) a[ATTR.mcpResourceUri] = request.subject;
  if (opts.payloads && request.method === 'tools/call') {
    const args = parsePayload(request)?.params?.arguments;
    if (args !== undefined) a[ATTR.genAiToolCallArguments] = JSON.stringify(args);
    const result = parsePayload(response)?.result;
    if (result !== undefined && !response?.isError) a[ATTR.genAiToolCallResult] = JSON.stringify(result);
  }
  const end = response?.ts ?? pair.endedAt ?? request.ts;
  return {
    ...place,
    spanId: spanIds.mcp(session.id, request.seq),
    name: mcpSpanName(request.method ?? '', request.subject),
    kind: 'client',
    start: request.ts,
    end,
    attributes: a,
    error: mcpError(pair),
    events: [],
    evidence: [evidenceKey.message(session.id, request.seq), ...(response ? [evidenceKey.message(session.id, response.seq)] : [])],
  };
}
