// The one place that names mcptap's domain. Engine, store, analysis and UI all speak these types.
import type { DecodeError, Failure, Rewrite } from './facts.js';

export type { DecodeError, Failure, FailureKind, Rewrite, RewriteKind } from './facts.js';

/** Who sent a JSON-RPC message. Spelled as in `mcptap show --json`. */
export type Direction = 'client->server' | 'server->client';

/**
 * How an MCP session is carried. `http` groups traffic that is not MCP at all; `stdio` is a wrapped child
 * process; `model-api` is a model conversation (its turns are in the store's `turns`).
 */
export type Transport = 'streamable-http' | 'sse' | 'websocket' | 'stdio' | 'http' | 'model-api';

/**
 * What carried a message:
 * - `request-body`: the body of an HTTP request (POST)
 * - `response-body`: a JSON response body
 * - `response-sse`: an SSE event in the response to a POST (Streamable HTTP)
 * - `get-sse`: an SSE event on a GET stream (standalone Streamable HTTP stream, or the legacy HTTP+SSE stream)
 * - `ws-frame`: one WebSocket frame
 * - `stdin` / `stdout`: one line a wrapped stdio server read or wrote; `stderr`: one line of its log
 */
export type Channel = 'request-body' | 'response-body' | 'response-sse' | 'get-sse' | 'ws-frame' | 'stdin' | 'stdout' | 'stderr';

/**
 * - `invalid`: JSON, but not a valid JSON-RPC 2.0 message
 * - `non-json`: a body or frame that was expected to carry JSON-RPC and does not parse
 * - `log`: a line a stdio server wrote to stderr (not JSON-RPC; the payload is the text)
 */
export type MessageKind = 'request' | 'notification' | 'response' | 'error' | 'invalid' | 'non-json' | 'log';

export type RpcId = string | number;

export interface PeerInfo {
  name: string;
  version?: string;
  title?: string;
  [k: string]: unknown;
}

export interface Session {
  /** 12 hex characters; commands accept any unique prefix. */
  id: string;
  label: string | null;
  transport: Transport;
  /** The upstream the proxy forwarded to (origin and path prefix). */
  target: string;
  /**
   * `Mcp-Session-Id` (Streamable HTTP) or the legacy `sessionId` query value (HTTP+SSE); for a
   * `model-api` conversation, the client's conversation id (`x-claude-code-session-id`).
   */
  mcpSessionId: string | null;
  /** Negotiated in `initialize` (the server's answer), else the version the client asked for. */
  protocolVersion: string | null;
  clientInfo: PeerInfo | null;
  serverInfo: PeerInfo | null;
  clientCapabilities: Record<string, unknown> | null;
  serverCapabilities: Record<string, unknown> | null;
  /** Epoch milliseconds. */
  startedAt: number;
  endedAt: number | null;
  /** Why the session ended: `delete`, `stream-closed`, `ws-closed`, `proxy-stopped`. */
  endReason: string | null;
  messageCount: number;
  /** JSON-RPC errors, `isError` tool results, invalid messages and HTTP statuses ≥ 400. */
  errorCount: number;
  exchangeCount: number;
  /** The MCP gateway the session went through (LiteLLM), recognised from what it answered; null when direct. */
  gateway?: GatewayInfo | null;
  /** A session without a session id (2026-07-28): how its requests were put together, and where that was a guess. */
  grouping?: SessionGrouping | null;
}

/**
 * How the tracker grouped a stateless session's requests (see the rule in src/capture/tracker.ts): the
 * `server/discover` that started it, then the client's connections; `guessed` counts the requests it had to
 * place among several runs of the same client that were live at once (two processes started together).
 */
export interface SessionGrouping {
  rule: 'stateless';
  /** The run began with a server/discover (false: the proxy joined a run already under way). */
  startedByDiscover: boolean;
  guessed: number;
  /** Why it had to guess, in words; null when it never did. */
  uncertain: string | null;
}

/** A gateway between the client and its MCP servers, and which of them the session reached. */
export interface GatewayInfo {
  name: 'litellm';
  /** What gave it away, e.g. `serverInfo litellm-mcp-server`. */
  recognisedBy: string;
  /** The servers the client selected (path `/mcp/<server>` or `/<server>/mcp`, or the `x-mcp-servers` header); empty: all. */
  servers: string[];
  selectedBy: 'path' | 'header' | null;
  /** Server prefixes on the tool names the gateway listed (`db_main` of `db_main-list_schemas`). */
  prefixes: string[];
  /** The prefix separator (LiteLLM's MCP_TOOL_PREFIX_SEPARATOR, `-` by default). */
  separator: string;
}

/** Header pairs in the order they were sent, names as sent; values already redacted. */
export type HeaderList = Array<[string, string]>;

export type ExchangeKind = 'http' | 'websocket' | 'process';

/**
 * One HTTP request/response, one WebSocket connection, or one stdio child process (method `EXEC`, url
 * the redacted command line, upstreamUrl its working directory, status its exit code or 128+signal).
 */
export interface Exchange {
  /** 16 hex characters. */
  id: string;
  sessionId: string | null;
  kind: ExchangeKind;
  /** HTTP method (`GET` for a WebSocket upgrade). */
  method: string;
  /** Path and query as the client sent them to the proxy. */
  url: string;
  /** The full URL the proxy requested upstream. */
  upstreamUrl: string;
  status: number | null;
  requestHeaders: HeaderList;
  responseHeaders: HeaderList | null;
  /** Epoch milliseconds (fractional). */
  startedAt: number;
  /** When the response head arrived (or the WebSocket opened). */
  firstByteAt: number | null;
  endedAt: number | null;
  requestBytes: number;
  responseBytes: number;
  /** Stored copies of the bodies, decoded (Content-Encoding) and capped at --max-body; null when absent. */
  requestBody: string | null;
  responseBody: string | null;
  requestTruncated: boolean;
  responseTruncated: boolean;
  /** What went wrong first (upstream unreachable, body cut, decoding failed, …), as data; null when nothing did. */
  failure: Failure | null;
  /** The client went away before the exchange completed (also when another failure came first). */
  aborted: boolean;
  /**
   * Which side ended it first: the upstream finishing (or dropping) its response, or the client going
   * away; for a WebSocket, the first to send a close frame or drop the connection. Null while open.
   */
  closedBy: 'client' | 'server' | null;
  /** What the proxy changed on its way through (endpoint, redirect, OAuth, gateway-debug), in order; empty when nothing. */
  rewrites: Rewrite[];
  /** Address of the client that made the request. */
  clientAddress: string | null;
}

export interface RpcMessage {
  sessionId: string;
  /** Position in the session, from 1. */
  seq: number;
  exchangeId: string | null;
  /** Epoch milliseconds (fractional). */
  ts: number;
  direction: Direction;
  channel: Channel;
  kind: MessageKind;
  rpcId: RpcId | null;
  /** The method; for responses and errors the method of the request they answer. */
  method: string | null;
  /** Tool name for `tools/call`, URI for `resources/read` and friends, prompt name for `prompts/get`. */
  subject: string | null;
  /** JSON text as captured (redacted), or the raw text for `non-json`; capped, see `truncated`. */
  payload: string;
  truncated: boolean;
  /** Size in bytes of the message as it was on the wire. */
  size: number;
  /** For a response: the seq of its request; for a request: the seq of its response. */
  correlatedSeq: number | null;
  /** Request → response time, on both the request and its response. */
  latencyMs: number | null;
  sseEventId: string | null;
  /** Index inside a JSON-RPC batch, null when not batched. */
  batchIndex: number | null;
  /** A JSON-RPC error, or a tool result with `isError: true`. */
  isError: boolean;
  errorCode: number | null;
  /** Why decoding failed (`non-json`, `invalid`), or null. */
  decodeError: DecodeError | null;
}

export function clientName(s: Pick<Session, 'clientInfo'>): string | null {
  return s.clientInfo?.name ?? null;
}

export function serverName(s: Pick<Session, 'serverInfo'>): string | null {
  return s.serverInfo?.name ?? null;
}
