import type { Exchange, RpcId, RpcMessage, Session } from '../capture/model.js';

// The mapping between the model and SQLite rows lives here only, so the recorder, the read API and
// import all agree on it.

type Row = Record<string, unknown>;

const json = (v: unknown): string | null => (v == null ? null : JSON.stringify(v));
const parse = <T>(v: unknown): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : null);
const bool = (v: unknown): boolean => v === 1 || v === true;

export function sessionToRow(s: Session): Row {
  return {
    id: s.id,
    label: s.label,
    transport: s.transport,
    target: s.target,
    mcp_session_id: s.mcpSessionId,
    protocol_version: s.protocolVersion,
    client_info: json(s.clientInfo),
    server_info: json(s.serverInfo),
    client_capabilities: json(s.clientCapabilities),
    server_capabilities: json(s.serverCapabilities),
    started_at: s.startedAt,
    ended_at: s.endedAt,
    end_reason: s.endReason,
    message_count: s.messageCount,
    error_count: s.errorCount,
    exchange_count: s.exchangeCount,
  };
}

export function rowToSession(r: Row): Session {
  return {
    id: r.id as string,
    label: (r.label as string) ?? null,
    transport: r.transport as Session['transport'],
    target: r.target as string,
    mcpSessionId: (r.mcp_session_id as string) ?? null,
    protocolVersion: (r.protocol_version as string) ?? null,
    clientInfo: parse(r.client_info),
    serverInfo: parse(r.server_info),
    clientCapabilities: parse(r.client_capabilities),
    serverCapabilities: parse(r.server_capabilities),
    startedAt: r.started_at as number,
    endedAt: (r.ended_at as number) ?? null,
    endReason: (r.end_reason as string) ?? null,
    messageCount: r.message_count as number,
    errorCount: r.error_count as number,
    exchangeCount: r.exchange_count as number,
  };
}

export function exchangeToRow(e: Exchange): Row {
  return {
    id: e.id,
    session_id: e.sessionId,
    kind: e.kind,
    method: e.method,
    url: e.url,
    upstream_url: e.upstreamUrl,
    status: e.status,
    request_headers: JSON.stringify(e.requestHeaders),
    response_headers: json(e.responseHeaders),
    started_at: e.startedAt,
    first_byte_at: e.firstByteAt,
    ended_at: e.endedAt,
    request_bytes: e.requestBytes,
    response_bytes: e.responseBytes,
    request_body: e.requestBody,
    response_body: e.responseBody,
    request_truncated: e.requestTruncated ? 1 : 0,
    response_truncated: e.responseTruncated ? 1 : 0,
    error: e.error,
    aborted: e.aborted ? 1 : 0,
    rewrite: e.rewrite,
    client_address: e.clientAddress,
  };
}

export function rowToExchange(r: Row): Exchange {
  return {
    id: r.id as string,
    sessionId: (r.session_id as string) ?? null,
    kind: r.kind as Exchange['kind'],
    method: r.method as string,
    url: r.url as string,
    upstreamUrl: r.upstream_url as string,
    status: (r.status as number) ?? null,
    requestHeaders: parse(r.request_headers) ?? [],
    responseHeaders: parse(r.response_headers),
    startedAt: r.started_at as number,
    firstByteAt: (r.first_byte_at as number) ?? null,
    endedAt: (r.ended_at as number) ?? null,
    requestBytes: r.request_bytes as number,
    responseBytes: r.response_bytes as number,
    requestBody: (r.request_body as string) ?? null,
    responseBody: (r.response_body as string) ?? null,
    requestTruncated: bool(r.request_truncated),
    responseTruncated: bool(r.response_truncated),
    error: (r.error as string) ?? null,
    aborted: bool(r.aborted),
    rewrite: (r.rewrite as string) ?? null,
    clientAddress: (r.client_address as string) ?? null,
  };
}

export function messageToRow(m: RpcMessage): Row {
  return {
    session_id: m.sessionId,
    seq: m.seq,
    exchange_id: m.exchangeId,
    ts: m.ts,
    direction: m.direction,
    channel: m.channel,
    kind: m.kind,
    // JSON-encoded so that the id 1 and the id "1" stay different things.
    rpc_id: m.rpcId == null ? null : JSON.stringify(m.rpcId),
    method: m.method,
    subject: m.subject,
    payload: m.payload,
    truncated: m.truncated ? 1 : 0,
    size: m.size,
    correlated_seq: m.correlatedSeq,
    latency_ms: m.latencyMs,
    sse_event_id: m.sseEventId,
    batch_index: m.batchIndex,
    is_error: m.isError ? 1 : 0,
    error_code: m.errorCode,
    decode_error: m.decodeError,
  };
}

export function rowToMessage(r: Row): RpcMessage {
  return {
    sessionId: r.session_id as string,
    seq: r.seq as number,
    exchangeId: (r.exchange_id as string) ?? null,
    ts: r.ts as number,
    direction: r.direction as RpcMessage['direction'],
    channel: r.channel as RpcMessage['channel'],
    kind: r.kind as RpcMessage['kind'],
    rpcId: parse<RpcId>(r.rpc_id),
    method: (r.method as string) ?? null,
    subject: (r.subject as string) ?? null,
    payload: (r.payload as string) ?? '',
    truncated: bool(r.truncated),
    size: r.size as number,
    correlatedSeq: (r.correlated_seq as number) ?? null,
    latencyMs: (r.latency_ms as number) ?? null,
    sseEventId: (r.sse_event_id as string) ?? null,
    batchIndex: (r.batch_index as number) ?? null,
    isError: bool(r.is_error),
    errorCode: (r.error_code as number) ?? null,
    decodeError: (r.decode_error as string) ?? null,
  };
}

export const SESSION_COLUMNS = Object.keys(sessionToRow({} as Session));
export const EXCHANGE_COLUMNS = Object.keys(exchangeToRow({ requestHeaders: [] } as unknown as Exchange));
export const MESSAGE_COLUMNS = Object.keys(messageToRow({} as RpcMessage));

/** `INSERT … ON CONFLICT DO UPDATE` for a table whose rows are rewritten as they evolve. */
export function upsertSql(table: string, columns: string[], key: string[], placeholder: (column: string) => string = (c) => '@' + c): string {
  const updates = columns.filter((c) => !key.includes(c)).map((c) => `${c} = excluded.${c}`);
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(placeholder).join(', ')})
    ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${updates.join(', ')}`;
}
