import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { attachLiveChecks } from '../src/analysis/checks/live.js';
import { attachTelemetry } from '../src/telemetry/live.js';
import { ProxyMetrics, parseListen, serveMetrics } from '../src/telemetry/metrics.js';
import type { TelemetrySpan } from '../src/telemetry/span.js';
import { connectClient, listen, startStreamableServer } from './helpers/peers.js';
import { until } from './helpers/tmp.js';
import { clientRequests, readRun, replayHandler, sendRecorded, type Run } from './helpers/claude-fixtures.js';

// Prometheus metrics from real traffic (recorded Claude Code runs replayed through the proxy), served over
// HTTP as Prometheus scrapes them; and a client's own trace context honoured.

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

async function scrape(run: Run): Promise<string> {
  const upstream = await listen(http.createServer(replayHandler(readRun(run, 'model'), readRun(run, 'mcp'))));
  const proxy = await startProxy({ target: `http://127.0.0.1:${upstream.port}`, port: 0, db: null, onWarning: () => {} });
  let live: ReturnType<typeof attachTelemetry> | null = null;
  const metrics = new ProxyMetrics(proxy.engine.hub, { inFlight: () => live?.inFlight() ?? 0 });
  live = attachTelemetry(proxy.engine.hub, (s) => metrics.observeSpan(s));
  let findings = 0;
  const checks = attachLiveChecks(proxy.engine.hub, () => {}, { debounceMs: 0, onFinding: (f) => {
    findings++;
    metrics.observeFinding(f);
  } });
  const server = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 });
  closers.push(async () => {
    checks.stop();
    await server.close();
    await upstream.close();
  });
  for (const { ex } of clientRequests(run)) await sendRecorded(proxy.url, ex);
  await proxy.close();
  live.finish();
  if (run === 'no-such-tool') await until(() => findings > 0, 'a live finding');
  const r = await fetch(server.url);
  expect(r.headers.get('content-type')).toContain('text/plain');
  expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
  return r.text();
}

const value = (text: string, series: string): number | null => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : null;
};

describe('metrics of a Claude Code run', () => {
  it('no-such-tool: the tool use that never reached MCP is counted, turns and tokens observed, findings counted', async () => {
    const text = await scrape('no-such-tool');
    expect(value(text, 'mcptap_tool_uses_without_mcp_call_total{gen_ai_tool_name="mcp__srv__echo"}')).toBe(1);
    expect(text).toMatch(/^gen_ai_client_operation_duration_seconds_count\{gen_ai_operation_name="chat",gen_ai_provider_name="anthropic",gen_ai_request_model="[^"]+",error_type=""\} [1-9]/m);
    expect(text).toMatch(/^gen_ai_client_token_usage_count\{[^}]*gen_ai_token_type="input"\} [1-9]/m);
    expect(text).toMatch(/^mcptap_findings_total\{rule="[^"]+",severity="(error|warning|info)"\} [1-9]/m);
  });

  it('echo-http (clean): the tools/call timed by method and tool, nothing counted as unreached', async () => {
    const text = await scrape('echo-http');
    expect(text).toMatch(/^mcp_client_operation_duration_seconds_count\{mcp_method_name="tools\/call",gen_ai_tool_name="echo",server_address="127.0.0.1",error_type=""\} 1$/m);
    expect(text).not.toMatch(/^mcptap_tool_uses_without_mcp_call_total\{/m);
    // The proxy stopped: each MCP session ended, and its length was observed once.
    expect(text).toMatch(/^mcp_client_session_duration_seconds_count\{mcp_protocol_version="[^"]*",network_transport="tcp",server_address="127.0.0.1"\} [1-9]/m);
  });
});

describe('--metrics [HOST:]PORT', () => {
  it('reads a port, a host and port, and refuses anything else', () => {
    expect(parseListen('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen('http://x:1')).toBeNull();
    expect(parseListen('99999')).toBeNull();
  });
});

describe("a client's own trace context", () => {
  it('puts the span in the trace the request named, in _meta or in the traceparent header', async () => {
    const peer = await startStreamableServer();
    const proxy = await startProxy({ target: peer.url, port: 0, db: null, onWarning: () => {} });
    const spans: TelemetrySpan[] = [];
    const t = attachTelemetry(proxy.engine.hub, (s) => spans.push(s));
    const c = await connectClient('streamable-http', `${proxy.url}/mcp`);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await c.client.callTool({ name: 'echo', arguments: { message: 'mine' }, _meta: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    await c.client.callTool({ name: 'echo', arguments: { message: 'not mine' } });
    await c.close();
    await proxy.close();
    t.stop();
    await peer.close();
    const echo = spans.filter((s) => s.name === 'tools/call echo');
    expect(echo).toHaveLength(2);
    expect(echo[0]).toMatchObject({ traceId, parentSpanId: '00f067aa0ba902b7', remote: true });
    expect(echo[1].traceId).not.toBe(traceId);
    expect(echo[1].parentSpanId).toBeNull();
  });

  it("an HTTP traceparent header wins over mcptap's own join (the model turn's and the MCP call's)", async () => {
    const upstream = await listen(http.createServer(replayHandler(readRun('echo-http', 'model'), readRun('echo-http', 'mcp'))));
    const proxy = await startProxy({ target: `http://127.0.0.1:${upstream.port}`, port: 0, db: null, onWarning: () => {} });
    const spans: TelemetrySpan[] = [];
    const t = attachTelemetry(proxy.engine.hub, (s) => spans.push(s));
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    for (const { ex } of clientRequests('echo-http')) {
      const mark = ex.requestBody.includes('"tools/call"') || ex.url.startsWith('/v1/messages');
      await sendRecorded(proxy.url, mark ? { ...ex, requestHeaders: { ...ex.requestHeaders, traceparent: tp } } : ex);
    }
    await proxy.close();
    t.stop();
    await upstream.close();
    const call = spans.find((s) => s.name === 'tools/call echo')!;
    expect(call).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', parentSpanId: 'b7ad6b7169203331' });
    for (const turn of spans.filter((s) => s.name.startsWith('chat '))) expect(turn.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
  });
});
