import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { attachTelemetry } from '../src/telemetry/live.js';
import { recordedSpans } from '../src/telemetry/recorded.js';
import { startTelemetry } from '../src/telemetry/setup.js';
import type { TelemetrySpan } from '../src/telemetry/span.js';
import { connectClient, listen, startJsonServer, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';
import { clientRequests, readRun, replayHandler, sendRecorded, type Run } from './helpers/claude-fixtures.js';

// The trace mcptap builds from real traffic (recorded Claude Code runs replayed through the proxy, the SDK
// client and server-everything), live from the hub and again from the database, and what a dead or
// stalled collector costs: dropped spans, counted, never an unanswered call.

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

async function runFixture(run: Run): Promise<{ live: TelemetrySpan[]; db: string; proxy: RunningProxy }> {
  const tmp = tempDb();
  const upstream = await listen(http.createServer(replayHandler(readRun(run, 'model'), readRun(run, 'mcp'))));
  const proxy = await startProxy({ target: `http://127.0.0.1:${upstream.port}`, port: 0, db: tmp.db, label: run, onWarning: () => {} });
  const live: TelemetrySpan[] = [];
  const t = attachTelemetry(proxy.engine.hub, (s) => live.push(s));
  for (const { ex } of clientRequests(run)) await sendRecorded(proxy.url, ex);
  await proxy.close();
  t.finish();
  t.stop();
  closers.push(async () => {
    await upstream.close();
    tmp.cleanup();
  });
  return { live, db: tmp.db, proxy };
}

const byName = (spans: TelemetrySpan[], name: string) => spans.filter((s) => s.name === name);

describe('the trace of a Claude Code run (echo-http, replayed)', () => {
  let live: TelemetrySpan[];
  let db: string;
  it('nests turn → execute_tool → tools/call live, with the conventions\' names', async () => {
    ({ live, db } = await runFixture('echo-http'));
    const turns = live.filter((s) => s.name.startsWith('chat '));
    expect(turns.length).toBeGreaterThanOrEqual(2);
    for (const t of turns) {
      expect(t.kind).toBe('client');
      expect(t.attributes['gen_ai.provider.name']).toBe('anthropic');
      expect(t.attributes['gen_ai.operation.name']).toBe('chat');
      expect(t.attributes['gen_ai.conversation.id']).toBeTruthy();
    }
    const [tool] = byName(live, 'execute_tool mcp__srv__echo');
    expect(tool.kind).toBe('internal');
    expect(tool.attributes['gen_ai.tool.call.id']).toMatch(/^toolu_/);
    const parentTurn = turns.find((t) => t.spanId === tool.parentSpanId)!;
    expect(parentTurn).toBeTruthy();
    const [call] = byName(live, 'tools/call echo');
    expect(call.kind).toBe('client');
    expect(call.parentSpanId).toBe(tool.spanId);
    expect(call.traceId).toBe(tool.traceId);
    expect(call.traceId).toBe(parentTurn.traceId);
    expect(call.attributes).toMatchObject({ 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'echo', 'network.transport': 'tcp', 'network.protocol.name': 'http' });
    expect(call.error).toBeNull();
    // The prompt's turns are one trace: the turn that carried the result back continues it.
    expect(new Set(turns.map((t) => t.traceId)).size).toBe(1);
    // Wire times: the call sits inside its tool use, which sits after its turn's answer.
    expect(call.start).toBeGreaterThanOrEqual(tool.start);
    expect(call.end).toBeLessThanOrEqual(tool.end);
    expect(tool.start).toBeGreaterThanOrEqual(parentTurn.end);
    // No arguments or results unless asked for.
    expect(call.attributes['gen_ai.tool.call.arguments']).toBeUndefined();
    // MCP traffic no turn caused (initialize, tools/list) is its session's own trace.
    const list = byName(live, 'tools/list')[0];
    expect(list.traceId).not.toBe(call.traceId);
    expect(list.parentSpanId).toBeNull();
  });

  it('gives the same spans from the database (mcptap export --otlp)', () => {
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const spans = recordedSpans(store, store.listSessions());
      const key = (s: TelemetrySpan) => `${s.traceId}/${s.parentSpanId}/${s.spanId}/${s.name}/${s.start}`;
      expect(spans.map(key).sort()).toEqual(live.map(key).sort());
      // --otlp-payloads: the arguments and result as stored, on the MCP span and the tool use.
      const withPayloads = recordedSpans(store, store.listSessions(), { payloads: true });
      const call = withPayloads.find((s) => s.name === 'tools/call echo')!;
      expect(JSON.parse(String(call.attributes['gen_ai.tool.call.arguments']))).toEqual({ message: expect.any(String) });
      expect(String(call.attributes['gen_ai.tool.call.result'])).toContain('"content"');
      expect(withPayloads.find((s) => s.name === 'execute_tool mcp__srv__echo')!.attributes['gen_ai.tool.call.arguments']).toBe(call.attributes['gen_ai.tool.call.arguments']);
    } finally {
      store.close();
    }
  });
});

describe('a tool use that never reached an MCP server (no-such-tool)', () => {
  it('marks the execute_tool span failed, and a clean run has no such failure', async () => {
    const { live, db } = await runFixture('no-such-tool');
    // Exported after the fact, mcptap check's findings ride on the spans they explain.
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const events = recordedSpans(store, store.listSessions()).flatMap((s) => s.events.map((e) => `${s.name} ${e.attributes['mcptap.finding.rule']} ${e.attributes['mcptap.finding.severity']}`));
      expect(events).toContain('chat claude-fake model-unknown-tool error');
    } finally {
      store.close();
    }
    const [tool] = byName(live, 'execute_tool mcp__srv__echo');
    expect(tool.error?.type).toBe('mcp_call_missing');
    expect(tool.error?.message).toContain('No such tool available');
    expect(live.filter((s) => s.name.startsWith('tools/call'))).toEqual([]);
    // The clean run: the only failed span is Claude Code's server/discover probe, which this server
    // refuses with HTTP 400 (Claude Code then falls back to initialize): true of the wire.
    const clean = await runFixture('gateway-prefixed');
    expect(clean.live.filter((s) => s.error).map((s) => `${s.name} ${s.error!.type}`)).toEqual(['server/discover 400']);
    expect(byName(clean.live, 'execute_tool mcp__srv__db_main-echo')[0].error).toBeNull();
    const cleanStore = CaptureStore.open(clean.db, { readonly: true });
    try {
      expect(recordedSpans(cleanStore, cleanStore.listSessions()).flatMap((s) => s.events)).toEqual([]);
    } finally {
      cleanStore.close();
    }
  });
});

describe('a dead or stalled collector', () => {
  let peer: Peer;
  const cases = [
    { name: 'dead (connection refused)', collector: async () => {
      const l = await listen(http.createServer());
      await l.close();
      return { url: `http://127.0.0.1:${l.port}/v1/traces`, close: async () => {} };
    } },
    { name: 'stalled (accepts, never answers)', collector: async () => {
      const held: http.ServerResponse[] = [];
      const l = await listen(http.createServer((_req, res) => held.push(res)));
      return { url: `http://127.0.0.1:${l.port}/v1/traces`, close: async () => {
        for (const r of held) r.destroy();
        await l.close();
      } };
    } },
  ];
  it.each(cases)('$name: every call answered, the spans dropped and counted, one warning', async ({ collector }) => {
    peer ??= await startStreamableServer();
    const c = await collector();
    const proxy = await startProxy({ target: peer.url, port: 0, db: null, onWarning: () => {} });
    const warnings: string[] = [];
    const telemetry = (await startTelemetry(proxy.engine.hub, {
      otlp: { url: c.url }, warn: (m) => warnings.push(m), exporter: { maxQueue: 8, maxBatch: 4, intervalMs: 50, timeoutMs: 300 },
    }))!;
    const client = await connectClient('streamable-http', `${proxy.url}/mcp`);
    const N = 30;
    const answers = [];
    for (let i = 0; i < N; i++) answers.push(await client.client.callTool({ name: 'echo', arguments: { message: `m${i}` } }));
    expect(answers.map((a) => (a.content as Array<{ text: string }>)[0].text)).toEqual(Array.from({ length: N }, (_, i) => `Echo: m${i}`));
    await client.close();
    await proxy.close();
    await telemetry.close(10_000);
    const st = telemetry.stats()!;
    expect(st.exported).toBe(0);
    // Nothing left waiting; every span accepted went down with its failed batch, the rest for a full queue.
    expect(st.waiting).toBe(0);
    expect(st.dropped).toBeGreaterThanOrEqual(st.queued);
    expect(st.dropped).toBeGreaterThanOrEqual(N);
    expect(warnings).toHaveLength(1);
    await c.close();
  });
  afterAll(async () => peer?.close());
});

describe('failures set the span status and error.type', () => {
  const rpc = (id: number, method: string, params: unknown) => JSON.stringify({ jsonrpc: '2.0', id, method, params });
  const post = (url: string, body: string) => fetch(`${url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body });

  it('a JSON-RPC error in an HTTP 400 (as the Python SDK refuses an elicitation), an isError result, an unreachable server', async () => {
    // Answers as the Python SDK 2.3 does in the elicit-2026 run: HTTP 400 with the JSON-RPC error; and an isError result.
    const server = await startJsonServer((body, res) => {
      if (body?.params?.name === 'ask') {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: body.id, error: { code: -32600, message: 'no back-channel for server-initiated requests' } }));
      } else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { content: [{ type: 'text', text: 'Error executing tool fail' }], isError: true } }));
    });
    const dead = await listen(http.createServer());
    await dead.close();
    const proxy = await startProxy({ target: server.url, port: 0, db: null, onWarning: () => {} });
    const down = await startProxy({ target: `http://127.0.0.1:${dead.port}`, port: 0, db: null, onWarning: () => {} });
    const spans: TelemetrySpan[] = [];
    const t1 = attachTelemetry(proxy.engine.hub, (s) => spans.push(s));
    const t2 = attachTelemetry(down.engine.hub, (s) => spans.push(s));
    expect((await post(proxy.url, rpc(1, 'tools/call', { name: 'ask', arguments: {} }))).status).toBe(400);
    expect((await post(proxy.url, rpc(2, 'tools/call', { name: 'fail', arguments: {} }))).status).toBe(200);
    expect((await post(down.url, rpc(3, 'tools/call', { name: 'echo', arguments: {} }))).status).toBe(502);
    // Each span ends when its answer (or its exchange's failure) is seen, not when the proxy stops.
    await until(() => spans.length === 3, 'three spans');
    const of = (name: string) => spans.find((s) => s.name === name)!;
    expect(of('tools/call ask').error).toEqual({ type: '-32600', message: 'no back-channel for server-initiated requests' });
    expect(of('tools/call ask').attributes['rpc.response.status_code']).toBe('-32600');
    expect(of('tools/call fail').error).toEqual({ type: 'tool_error', message: 'Error executing tool fail' });
    expect(of('tools/call echo').error?.type).toBe('upstream-unreachable');
    t1.stop();
    t2.stop();
    await proxy.close();
    await down.close();
    await server.close();
  });
});
