// The OpenTelemetry semantic-convention names mcptap writes, as of release v1.41.1 of
// open-telemetry/semantic-conventions (docs/gen-ai/mcp.md, gen-ai-spans.md, anthropic.md, gen-ai-metrics.md).
// @opentelemetry/semantic-conventions marks the MCP and GenAI names deprecated (they moved to
// semantic-conventions-genai, unreleased), so they live here, once.

export const SEMCONV_VERSION = '1.41.1';

export const ATTR = {
  mcpMethodName: 'mcp.method.name',
  mcpProtocolVersion: 'mcp.protocol.version',
  mcpSessionId: 'mcp.session.id',
  mcpResourceUri: 'mcp.resource.uri',
  jsonrpcRequestId: 'jsonrpc.request.id',
  jsonrpcProtocolVersion: 'jsonrpc.protocol.version',
  rpcResponseStatusCode: 'rpc.response.status_code',
  errorType: 'error.type',
  networkTransport: 'network.transport',
  networkProtocolName: 'network.protocol.name',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  genAiOperationName: 'gen_ai.operation.name',
  genAiProviderName: 'gen_ai.provider.name',
  genAiRequestModel: 'gen_ai.request.model',
  genAiRequestStream: 'gen_ai.request.stream',
  genAiResponseFinishReasons: 'gen_ai.response.finish_reasons',
  genAiConversationId: 'gen_ai.conversation.id',
  genAiUsageInputTokens: 'gen_ai.usage.input_tokens',
  genAiUsageOutputTokens: 'gen_ai.usage.output_tokens',
  genAiUsageCacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  genAiUsageCacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  genAiToolName: 'gen_ai.tool.name',
  genAiToolCallId: 'gen_ai.tool.call.id',
  genAiToolType: 'gen_ai.tool.type',
  genAiToolCallArguments: 'gen_ai.tool.call.arguments',
  genAiToolCallResult: 'gen_ai.tool.call.result',
  genAiPromptName: 'gen_ai.prompt.name',
  genAiTokenType: 'gen_ai.token.type',
  serviceName: 'service.name',
} as const;

/** `gen_ai.operation.name` values. */
export const OPERATION = { chat: 'chat', executeTool: 'execute_tool' } as const;

/** `gen_ai.provider.name` values (the registry's well-known ones mcptap can tell apart by wire shape). */
export const PROVIDER = { anthropic: 'anthropic', openai: 'openai' } as const;

/** `error.type` values the conventions name; the rest are mcptap's own, low-cardinality. */
export const ERROR_TYPE = {
  /** mcp.md: a CallToolResult with `isError: true`. */
  toolError: 'tool_error',
  other: '_OTHER',
} as const;

/** Trace-context keys in `params._meta` (mcp.md, "Context propagation": unprefixed) and in HTTP headers. */
export const PROPAGATION = { traceparent: 'traceparent', tracestate: 'tracestate', baggage: 'baggage' } as const;

/** Metric names in OpenTelemetry form and the Prometheus names they take (unit suffix, dots to underscores). */
export const METRIC = {
  mcpClientOperationDuration: 'mcp_client_operation_duration_seconds',
  mcpClientSessionDuration: 'mcp_client_session_duration_seconds',
  genAiClientOperationDuration: 'gen_ai_client_operation_duration_seconds',
  genAiClientTokenUsage: 'gen_ai_client_token_usage',
} as const;

/** ExplicitBucketBoundaries the conventions advise for each histogram. */
export const BUCKETS = {
  /** mcp.client.operation.duration and mcp.client.session.duration advise the same boundaries. */
  mcpDuration: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
  genAiDuration: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
  genAiTokens: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
} as const;
