import type { DecodeError, Exchange, RpcId, RpcMessage, Session } from '../model/model.js';
import { decodeErrorFromText, failureFromText, rewritesFromText } from './legacy-facts.js';

// The mapping between the model and SQLite rows lives here only, so the recorder, the read API and
// import all agree on it.

type Row = Record<string, unknown>;

const json = (v: unknown): string | null => (v == null ? null : JSON.stringify(v));
const parse = <T>(v: unknown): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : null);
const bool = (v: unknown): boolean => v === 1 || v === true;

/** A column and how its value is read off a model object. */
export type Field<T> = [column: string, get: (x: T) => unknown];

export function toRow<T>(fields: Field<T>[], x: T): Row {
  const row: Row = {};
  for (const [c, get] of fields) row[c] = get(x);
  return row;
}

/** Session columns in table order, each with how it is read off the model. */
export const SESSION_FIELDS: Field<Session>[] = [
  ['id', (s) => s.id],
  ['label', (s) => s.label],
  ['transport', (s) => s.transport],
  ['target', (s) => s.target],
  ['mcp_session_id', (s) => s.mcpSessionId],
  ['protocol_version', (s) => s.protocolVersion],
  ['client_info', (s) => json(s.clientInfo)],
  ['server_info', (s) => json(s.serverInfo)],
  ['client_capabilities', (s) => json(s.clientCapabilities)],
  ['server_capabilities', (s) => json(s.serverCapabilities)],
  ['started_at', (s) => s.startedAt],
  ['ended_at', (s) => s.endedAt],
  ['end_reason', (s) => s.endReason],
  ['message_count', (s) => s.messageCount],
  ['error_count', (s) => s.errorCount],
  ['exchange_count', (s) => s.exchangeCount],
  ['gateway', (s) => json(s.gateway)],
  ['grouping', (s) => json(s.grouping)],
];

export function sessionToRow(s: Session): Row {
  return toRow(SESSION_FIELDS, s);
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
    // Databases and recordings from before the column read as direct sessions.
    gateway: parse(r.gateway),
    // Sessions from before the column (and with a session id) read as null.
    grouping: parse(r.grouping),
  };
}

/** Exchange columns in table order, each with how it is read off the model. */
export const EXCHANGE_FIELDS: Field<Exchange>[] = [
  ['id', (e) => e.id],
  ['session_id', (e) => e.sessionId],
  ['kind', (e) => e.kind],
  ['method', (e) => e.method],
  ['url', (e) => e.url],
  ['upstream_url', (e) => e.upstreamUrl],
  ['status', (e) => e.status],
  ['request_headers', (e) => JSON.stringify(e.requestHeaders)],
  ['response_headers', (e) => json(e.responseHeaders)],
  ['started_at', (e) => e.startedAt],
  ['first_byte_at', (e) => e.firstByteAt],
  ['ended_at', (e) => e.endedAt],
  ['request_bytes', (e) => e.requestBytes],
  ['response_bytes', (e) => e.responseBytes],
  ['request_body', (e) => e.requestBody],
  ['response_body', (e) => e.responseBody],
  ['request_truncated', (e) => e.requestTruncated ? 1 : 0],
  ['response_truncated', (e) => e.responseTruncated ? 1 : 0],
  ['aborted', (e) => e.aborted ? 1 : 0],
  ['closed_by', (e) => e.closedBy ?? null],
  ['client_address', (e) => e.clientAddress],
  // Schema 6: facts as JSON; the sentences of older schemas stay in `error` and `rewrite`.
  ['failure', (e) => json(e.failure)],
  ['rewrites', (e) => e.rewrites.length ? JSON.stringify(e.rewrites) : null],
];

export function exchangeToRow(e: Exchange): Row {
  return toRow(EXCHANGE_FIELDS, e);
}

export function rowToExchange(r: Row): Exchange {
  const legacy = { kind: r.kind as Exchange['kind'], status: (r.status as number) ?? null, aborted: bool(r.aborted), responseHeaders: parse<Exchange['responseHeaders']>(r.response_headers) };
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
    // A database opened read-only at an older schema has no fact columns: its sentences are read back.
    failure: 'failure' in r ? parse(r.failure) : failureFromText(r.error as string | null, legacy),
    aborted: bool(r.aborted),
    closedBy: (r.closed_by as Exchange['closedBy']) ?? null,
    rewrites: 'rewrites' in r ? parse(r.rewrites) ?? [] : rewritesFromText(r.rewrite as string | null),
    clientAddress: (r.client_address as string) ?? null,
  };
}

/** RpcMessage columns in table order, each with how it is read off the model. */
export const MESSAGE_FIELDS: Field<RpcMessage>[] = [
  ['session_id', (m) => m.sessionId],
  ['seq', (m) => m.seq],
  ['exchange_id', (m) => m.exchangeId],
  ['ts', (m) => m.ts],
  ['direction', (m) => m.direction],
  ['channel', (m) => m.channel],
  ['kind', (m) => m.kind],
  // JSON-encoded so that the id 1 and the id "1" stay different things.
  ['rpc_id', (m) => m.rpcId == null ? null : JSON.stringify(m.rpcId)],
  ['method', (m) => m.method],
  ['subject', (m) => m.subject],
  ['payload', (m) => m.payload],
  ['truncated', (m) => m.truncated ? 1 : 0],
  ['size', (m) => m.size],
  ['correlated_seq', (m) => m.correlatedSeq],
  ['latency_ms', (m) => m.latencyMs],
  ['sse_event_id', (m) => m.sseEventId],
  ['batch_index', (m) => m.batchIndex],
  ['is_error', (m) => m.isError ? 1 : 0],
  ['error_code', (m) => m.errorCode],
  // JSON from schema 6 on; a sentence before (see decodeErrorOfColumn).
  ['decode_error', (m) => json(m.decodeError)],
];

export function messageToRow(m: RpcMessage): Row {
  return toRow(MESSAGE_FIELDS, m);
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
    decodeError: decodeErrorOfColumn(r.decode_error, r.kind as RpcMessage['kind']),
  };
}

/** `messages.decode_error`: a JSON fact from schema 6 on, the sentence older schemas stored before. */
export function decodeErrorOfColumn(v: unknown, kind: RpcMessage['kind']): DecodeError | null {
  if (typeof v !== 'string' || !v) return null;
  return v.startsWith('{') ? (JSON.parse(v) as DecodeError) : decodeErrorFromText(v, kind);
}

export const SESSION_COLUMNS = SESSION_FIELDS.map(([c]) => c);
export const EXCHANGE_COLUMNS = EXCHANGE_FIELDS.map(([c]) => c);
export const MESSAGE_COLUMNS = MESSAGE_FIELDS.map(([c]) => c);

/** `INSERT … ON CONFLICT DO UPDATE` for a table whose rows are rewritten as they evolve. */
export function upsertSql(table: string, columns: string[], key: string[], placeholder: (column: string) => string = (c) => '@' + c): string {
  const updates = columns.filter((c) => !key.includes(c)).map((c) => `${c} = excluded.${c}`);
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(placeholder).join(', ')})
    ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${updates.join(', ')}`;
}
