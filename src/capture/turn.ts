import type { McpListing, ModelApi, RequestMcpServer, ToolResultBlock, ToolUse } from '../wire/model-api/types.js';

export type { McpListing, ModelApi, RequestMcpServer, ToolResultBlock, ToolUse } from '../wire/model-api/types.js';

/** A model API answer that failed: an HTTP error status, an `error` body or stream event, or no answer. */
export interface TurnError {
  status: number | null;
  /** The API's error type (`authentication_error`, `rate_limit_error`, `overloaded_error`…), or `http`. */
  type: string;
  message: string;
}

/**
 * One model API exchange in a conversation (a `model-api` session): what the client offered and sent
 * back, what the model asked for. The tools array and system prompt, resent on every turn, are stored
 * once each as blobs and named here by hash.
 */
export interface Turn {
  sessionId: string;
  /** Position in the conversation, from 1. */
  seq: number;
  exchangeId: string;
  /** Epoch milliseconds: when the request started, and when the answer ended. */
  ts: number;
  endedAt: number | null;
  api: ModelApi;
  model: string | null;
  stream: boolean;
  status: number | null;
  toolsHash: string | null;
  systemHash: string | null;
  /** Names of the tools offered, as a blob (the list repeats as the tools do). */
  toolNamesHash: string | null;
  /** The names themselves, in memory only (live checks); the store keeps them in the blob. */
  toolNames?: string[];
  toolUses: ToolUse[];
  /** Results this request carried back to the model. */
  toolResults: ToolResultBlock[];
  /** Results of calls the API or gateway made itself. */
  serverResults: ToolResultBlock[];
  mcpListings: McpListing[];
  mcpServers: RequestMcpServer[];
  stopReason: string | null;
  usage: Record<string, number> | null;
  error: TurnError | null;
  /** The assistant's text, capped. */
  text: string;
  messageCount: number;
}

/** Content-addressed text: what repeats on every turn is stored once. */
export interface Blob {
  hash: string;
  text: string;
}
