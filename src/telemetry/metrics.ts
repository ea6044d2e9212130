import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CaptureHub } from '../capture/hub.js';
import type { Finding } from '../analysis/checks/types.js';
import { ATTR, BUCKETS, METRIC, OPERATION } from './semconv.js';
import { NO_MCP_CALL } from './model-spans.js';
import { serverOf, type TelemetrySpan } from './span.js';

/** Numbers only the running proxy knows, read at each scrape. */
export interface MetricsSources {
  inFlight?: () => number;
  records?: () => { captured: number; dropped: number };
  exporterDropped?: () => number;
}

const str = (v: unknown) => (v == null ? '' : String(v));

/**
 * The proxy's Prometheus metrics: the conventions' histograms in Prometheus naming (fed by the spans, so
 * traces and metrics agree) and mcptap's own counters. Labels are low-cardinality: methods, tool and
 * model names, servers, error types, rules; never ids or arguments.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly mcpDuration: Histogram<string>;
  private readonly sessionDuration: Histogram<string>;
  private readonly genAiDuration: Histogram<string>;
  private readonly tokens: Histogram<string>;
  private readonly findings: Counter<string>;
  private readonly unreached: Counter<string>;
  private readonly streams = new Set<string>();

  constructor(hub: CaptureHub, src: MetricsSources = {}) {
    const registers = [this.registry];
    this.mcpDuration = new Histogram({
      name: METRIC.mcpClientOperationDuration, help: 'Duration of MCP requests as the proxy saw them, request sent to answer received (mcp.client.operation.duration).',
      labelNames: ['mcp_method_name', 'gen_ai_tool_name', 'server_address', 'error_type'], buckets: [...BUCKETS.mcpDuration], registers,
    });
    this.sessionDuration = new Histogram({
      name: METRIC.mcpClientSessionDuration, help: 'Duration of MCP sessions, first request to end (mcp.client.session.duration).',
      labelNames: ['mcp_protocol_version', 'network_transport', 'server_address'], buckets: [...BUCKETS.mcpDuration], registers,
    });
    this.genAiDuration = new Histogram({
      name: METRIC.genAiClientOperationDuration, help: 'Duration of model API turns (gen_ai.client.operation.duration).',
      labelNames: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'error_type'], buckets: [...BUCKETS.genAiDuration], registers,
    });
    this.tokens = new Histogram({
      name: METRIC.genAiClientTokenUsage, help: 'Tokens per model API turn, input (cache reads and writes included) and output (gen_ai.client.token.usage).',
      labelNames: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_token_type'], buckets: [...BUCKETS.genAiTokens], registers,
    });
    this.findings = new Counter({ name: 'mcptap_findings_total', help: 'Findings of the live checks, by rule and severity.', labelNames: ['rule', 'severity'], registers });
    this.unreached = new Counter({
      name: 'mcptap_tool_uses_without_mcp_call_total', help: 'MCP tool uses the model asked for that never became a tools/call (e.g. "No such tool available").',
      labelNames: ['gen_ai_tool_name'], registers,
    });
    const streams = this.streams;
    new Gauge({ name: 'mcptap_requests_in_flight', help: 'MCP requests sent and not yet answered.', registers, collect() { this.set(src.inFlight?.() ?? 0); } });
    new Gauge({ name: 'mcptap_open_streams', help: 'Event streams and WebSocket connections open now.', registers, collect() { this.set(streams.size); } });
    new Counter({ name: 'mcptap_records_captured_total', help: 'Records written to the capture database.', registers, collect() { this.reset(); this.inc(src.records?.().captured ?? 0); } });
    new Counter({ name: 'mcptap_records_dropped_total', help: 'Records the capture database lost.', registers, collect() { this.reset(); this.inc(src.records?.().dropped ?? 0); } });
    new Counter({ name: 'mcptap_otlp_spans_dropped_total', help: 'Spans the OTLP exporter dropped (queue full, or the collector refused or timed out).', registers, collect() { this.reset(); this.inc(src.exporterDropped?.() ?? 0); } });
    // A session is published again after its end (late counters): each is observed once.
    const ended = new Set<string>();
    hub.on('session', (s) => {
      if (s.endedAt == null || s.transport === 'model-api' || s.transport === 'http' || ended.has(s.id)) return;
      if (ended.size >= 10_000) ended.clear();
      ended.add(s.id);
      this.sessionDuration.observe({
        mcp_protocol_version: s.protocolVersion ?? '', network_transport: s.transport === 'stdio' ? 'pipe' : 'tcp', server_address: str(serverOf(s.target)[ATTR.serverAddress]),
      }, Math.max(0, s.endedAt - s.startedAt) / 1000);
    });
    hub.on('stream', (f) => {
      if (f.closedAt == null) streams.add(f.exchangeId);
      else streams.delete(f.exchangeId);
    });
  }

  observeSpan(s: TelemetrySpan): void {
    const a = s.attributes;
    const seconds = Math.max(0, s.end - s.start) / 1000;
    const errorType = s.error?.type ?? '';
    if (a[ATTR.mcpMethodName] != null) {
      this.mcpDuration.observe({ mcp_method_name: str(a[ATTR.mcpMethodName]), gen_ai_tool_name: str(a[ATTR.genAiToolName]), server_address: str(a[ATTR.serverAddress]), error_type: errorType }, seconds);
    } else if (a[ATTR.genAiOperationName] === OPERATION.chat) {
      const base = { gen_ai_operation_name: OPERATION.chat, gen_ai_provider_name: str(a[ATTR.genAiProviderName]), gen_ai_request_model: str(a[ATTR.genAiRequestModel]) };
      this.genAiDuration.observe({ ...base, error_type: errorType }, seconds);
      const input = a[ATTR.genAiUsageInputTokens];
      const output = a[ATTR.genAiUsageOutputTokens];
      if (typeof input === 'number') this.tokens.observe({ ...base, gen_ai_token_type: 'input' }, input);
      if (typeof output === 'number') this.tokens.observe({ ...base, gen_ai_token_type: 'output' }, output);
    } else if (errorType === NO_MCP_CALL) this.unreached.inc({ gen_ai_tool_name: str(a[ATTR.genAiToolName]) });
  }

  observeFinding(f: Finding): void {
    this.findings.inc({ rule: f.ruleId, severity: f.severity });
  }
}

/** `[HOST:]PORT` of `--metrics`; the host defaults to loopback. Null when it is not that shape. */
export function parseListen(v: string): { host: string; port: number } | null {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(v.trim());
  if (!m) return null;
  const port = Number(m[2]);
  if (port > 65535) return null;
  return { host: (m[1] || '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (anything else: 404). Scrapes read counters; they never touch the traffic. */
export async function serveMetrics(metrics: ProxyMetrics, listen: { host: string; port: number }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('mcptap serves /metrics only\n');
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${e.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${host}:${a.port}/metrics`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
