import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../../src/proxy/server.js';
import { CaptureStore } from '../../src/store/read.js';
import { TurnReader } from '../../src/store/turns-read.js';
import { connectClient, listen, startStreamableServer, type Peer } from '../helpers/peers.js';
import { until } from '../helpers/tmp.js';
import { clientRequests, readRun, replayHandler, sendRecorded, type Run } from '../helpers/claude-fixtures.js';
import { freePort, startChild, type Child } from './peers.js';
import { jaegerSpans, parentOf, startJaeger, tag, type Jaeger, type JaegerSpan } from './observability.js';

// Traces into a real Jaeger v2 (OTLP/HTTP in, in-memory storage, its query API out): two `mcptap proxy
// --otlp` processes, one in front of server-everything driven by the SDK client, one in front of a
// recorded Claude Code run (model API and MCP); and `mcptap export --otlp` of a recording afterwards.

const CLI = path.resolve('dist/src/cli/main.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-jaeger-'));
const closers: Array<() => Promise<void>> = [];
let jaeger: Jaeger;

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  jaeger = await startJaeger(dir);
  closers.push(() => jaeger.stop());
});

/** `mcptap proxy --otlp` as people run it; stopped with SIGTERM, which flushes its spans. */
async function mcptapProxy(target: string, db: string, service: string): Promise<Child> {
  const port = await freePort();
  const child = await startChild('mcptap proxy', process.execPath, [CLI, 'proxy', '--target', target, '--port', String(port), '--db', db, '--otlp', jaeger.otlp], {
    port, readyUrl: `http://127.0.0.1:${port}/ready-probe`, ready: () => true, env: { OTEL_SERVICE_NAME: service }, cwd: process.cwd(),
  });
  closers.push(() => child.stop());
  return child;
}

const spansOf = async (service: string, atLeast: (s: JaegerSpan[]) => boolean): Promise<JaegerSpan[]> => {
  let spans: JaegerSpan[] = [];
  await until(async () => atLeast((spans = await jaegerSpans(jaeger.query, service))), `spans of ${service} in Jaeger`, 60_000);
  return spans;
};
const named = (spans: JaegerSpan[], name: string) => spans.filter((s) => s.operationName === name);

async function replayUpstream(run: Run): Promise<string> {
  const l = await listen(http.createServer(replayHandler(readRun(run, 'model'), readRun(run, 'mcp'))));
  closers.push(() => l.close());
  return `http://127.0.0.1:${l.port}`;
}

describe('mcptap proxy --otlp into Jaeger', () => {
  let peer: Peer;
  beforeAll(async () => {
    peer = await startStreamableServer();
    closers.push(() => peer.close());
  });

  it('SDK client → server-everything: an MCP client span per request, with the conventions\' attributes', async () => {
    const proxy = await mcptapProxy(peer.url, path.join(dir, 'sdk.db'), 'mcptap-sdk');
    const c = await connectClient('streamable-http', `${proxy.url}/mcp`);
    await c.client.callTool({ name: 'echo', arguments: { message: 'to jaeger' } });
    await c.client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } });
    // Refused either as a JSON-RPC error (the SDK throws) or as an isError result: the span says which.
    await c.client.callTool({ name: 'no-such-tool', arguments: {} }).catch(() => null);
    await c.close();
    await proxy.stop();
    const spans = await spansOf('mcptap-sdk', (s) => named(s, 'tools/call get-sum').length === 1 && named(s, 'initialize').length === 1);
    const [echo] = named(spans, 'tools/call echo');
    expect(tag(echo, 'span.kind')).toBe('client');
    expect(tag(echo, 'mcp.method.name')).toBe('tools/call');
    expect(tag(echo, 'gen_ai.tool.name')).toBe('echo');
    expect(tag(echo, 'gen_ai.operation.name')).toBe('execute_tool');
    expect(tag(echo, 'jsonrpc.request.id')).toMatch(/^\d+$/);
    expect(tag(echo, 'mcp.session.id')).toBeTruthy();
    expect(tag(echo, 'mcp.protocol.version')).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(tag(echo, 'network.transport')).toBe('tcp');
    expect(tag(echo, 'server.address')).toBe('127.0.0.1');
    expect(tag(echo, 'otel.status_code')).toBeUndefined();
    // A session with no model half is one trace.
    expect(new Set(spans.map((s) => s.traceID)).size).toBe(1);
    // The unknown tool: server-everything answers a JSON-RPC error or an isError result; either way the span failed.
    const [bad] = named(spans, 'tools/call no-such-tool');
    expect(tag(bad, 'otel.status_code')).toBe('ERROR');
    expect(String(tag(bad, 'error.type'))).toMatch(/^(-\d+|tool_error)$/);
  });

  it('a Claude Code run (model API + MCP): turn → execute_tool → tools/call in one trace', async () => {
    const proxy = await mcptapProxy(await replayUpstream('echo-http'), path.join(dir, 'claude.db'), 'mcptap-claude');
    for (const { ex } of clientRequests('echo-http')) await sendRecorded(proxy.url, ex);
    await proxy.stop();
    const spans = await spansOf('mcptap-claude', (s) => named(s, 'tools/call echo').length === 1 && named(s, 'execute_tool mcp__srv__echo').length === 1);
    const call = named(spans, 'tools/call echo')[0];
    const tool = spans.find((s) => s.spanID === parentOf(call))!;
    expect(tool.operationName).toBe('execute_tool mcp__srv__echo');
    expect(tag(tool, 'span.kind')).toBe('internal');
    expect(tag(tool, 'gen_ai.tool.call.id')).toMatch(/^toolu_/);
    const turn = spans.find((s) => s.spanID === parentOf(tool))!;
    expect(turn.operationName).toMatch(/^chat claude-/);
    expect(tag(turn, 'span.kind')).toBe('client');
    expect(tag(turn, 'gen_ai.provider.name')).toBe('anthropic');
    expect(tag(turn, 'gen_ai.usage.input_tokens')).toBeGreaterThan(0);
    expect(parentOf(turn)).toBeNull();
    expect(new Set([call.traceID, tool.traceID, turn.traceID]).size).toBe(1);
    // The turn that carried the result back is in the same trace (one user prompt).
    expect(spans.filter((s) => s.traceID === turn.traceID && /^chat /.test(s.operationName)).length).toBeGreaterThanOrEqual(2);
  });
});

describe('mcptap export --otlp of a recording into Jaeger', () => {
  it('sends the recorded sessions with their recorded times and the same nesting', async () => {
    const db = path.join(dir, 'recorded.db');
    const upstream = await replayUpstream('gateway-prefixed');
    const proxy = await startProxy({ target: upstream, port: 0, db, onWarning: () => {} });
    for (const { ex } of clientRequests('gateway-prefixed')) await sendRecorded(proxy.url, ex);
    await proxy.close();
    const r = spawnSync(process.execPath, [CLI, 'export', '--all', '--db', db, '--otlp', jaeger.otlp], { encoding: 'utf8', env: { ...process.env, OTEL_SERVICE_NAME: 'mcptap-export' } });
    expect(r.stderr).toMatch(/^sent \d+ spans in \d+ traces of \d+ sessions to /);
    expect(r.status).toBe(0);
    const spans = await spansOf('mcptap-export', (s) => named(s, 'tools/call db_main-echo').length === 1);
    const call = named(spans, 'tools/call db_main-echo')[0];
    const tool = spans.find((s) => s.spanID === parentOf(call))!;
    expect(tool.operationName).toBe('execute_tool mcp__srv__db_main-echo');
    const turn = spans.find((s) => s.spanID === parentOf(tool))!;
    expect(turn.operationName).toMatch(/^chat /);
    // Recorded times, to the microsecond Jaeger keeps.
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const conv = store.listSessions().find((s) => s.transport === 'model-api')!;
      const turns = new TurnReader(store).turns(conv.id);
      const first = turns[0];
      const firstSpan = spans.filter((s) => /^chat /.test(s.operationName)).sort((a, b) => a.startTime - b.startTime)[0];
      expect(Math.abs(firstSpan.startTime - first.ts * 1000)).toBeLessThanOrEqual(1);
      expect(Math.abs(firstSpan.duration - (first.endedAt! - first.ts) * 1000)).toBeLessThanOrEqual(2);
      const mcp = store.listSessions().find((s) => s.transport === 'streamable-http' && store.messages(s.id).some((m) => m.method === 'tools/call'))!;
      const req = store.messages(mcp.id).find((m) => m.method === 'tools/call' && m.kind === 'request')!;
      expect(Math.abs(call.startTime - req.ts * 1000)).toBeLessThanOrEqual(1);
    } finally {
      store.close();
    }
  });

  it('a collector that is not there: exit 1 and one line, nothing sent', () => {
    const r = spawnSync(process.execPath, [CLI, 'export', '--all', '--db', path.join(dir, 'recorded.db'), '--otlp', 'http://127.0.0.1:9/v1/traces'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/sent 0 of \d+ spans/);
  });
});
