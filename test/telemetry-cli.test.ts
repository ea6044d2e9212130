import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { listen } from './helpers/peers.js';
import { startProxy } from '../src/proxy/server.js';
import { attachLiveChecks } from '../src/analysis/checks/live.js';
import { startTelemetry } from '../src/telemetry/setup.js';
import { clientRequests, readRun, replayHandler, sendRecorded } from './helpers/claude-fixtures.js';
import { tempDb, until } from './helpers/tmp.js';

// The telemetry flags as people type them: `mcptap wrap --otlp` in front of server-everything (stdio)
// sending to a local OTLP/HTTP collector (a plain HTTP server that keeps what it is sent), and the
// one-line refusals of bad flag values.

const cli = path.resolve('dist/src/cli/main.js');
const everythingBin = path.resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const tmp = tempDb();

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number };
  events?: Array<{ name: string; attributes: OtlpSpan['attributes'] }>;
  /** The resource's service.name (added by the collector stub). */
  service?: string;
}
const received: OtlpSpan[] = [];
const authHeaders: string[] = [];
let collector: { port: number; close(): Promise<void> };

beforeAll(async () => {
  collector = await listen(http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      authHeaders.push(String(req.headers['x-team-token'] ?? ''));
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: Array<{ resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue as string | undefined;
        for (const ss of rs.scopeSpans) received.push(...ss.spans.map((sp) => ({ ...sp, service })));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  }));
});
afterAll(async () => {
  await collector.close();
  tmp.cleanup();
});

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
};

describe('mcptap wrap --otlp', () => {
  it('sends a span per request of the stdio session, network.transport=pipe, before it exits', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath, args: [cli, 'wrap', '--db', tmp.db, '--otlp', `http://127.0.0.1:${collector.port}`, '--', process.execPath, everythingBin, 'stdio'],
      env: { ...process.env } as Record<string, string>, stderr: 'pipe',
    });
    const client = new Client({ name: 'otlp-test', version: '1.0.0' });
    await client.connect(transport);
    await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } });
    await client.close();
    // close() ends the child; wrap flushes its spans before it exits.
    await until(() => received.some((s) => s.name === 'tools/call get-sum'), 'the spans at the collector');
    const echo = received.find((s) => s.name === 'tools/call echo')!;
    expect(echo.kind).toBe(3);
    expect(attr(echo, 'mcp.method.name')).toBe('tools/call');
    expect(attr(echo, 'network.transport')).toBe('pipe');
    expect(attr(echo, 'mcp.session.id')).toBeUndefined();
    expect(attr(echo, 'gen_ai.tool.call.arguments')).toBeUndefined();
    expect(echo.service).toBe('mcptap');
    expect(received.find((s) => s.name === 'initialize')?.traceId).toBe(echo.traceId);
  });
});

describe('OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS, no flag', () => {
  it('turn export on, to that collector, with those headers', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath, args: [cli, 'wrap', '--db', tmp.db, '--label', 'env', '--', process.execPath, everythingBin, 'stdio'],
      env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`, OTEL_EXPORTER_OTLP_HEADERS: 'x-team-token=t0k3n', OTEL_SERVICE_NAME: 'laptop-2' } as Record<string, string>,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'otlp-env-test', version: '1.0.0' });
    await client.connect(transport);
    await client.callTool({ name: 'echo', arguments: { message: 'by env' } });
    await client.close();
    await until(() => received.some((s) => s.service === 'laptop-2' && s.name === 'tools/call echo'), 'spans sent by the environment\'s endpoint');
    expect(authHeaders).toContain('t0k3n');
  });
});

describe('live findings on the exported spans', () => {
  it('the no-such-tool run: model-unknown-tool rides on its turns as an mcptap.finding event', async () => {
    const upstream = await listen(http.createServer(replayHandler(readRun('no-such-tool', 'model'), readRun('no-such-tool', 'mcp'))));
    const proxy = await startProxy({ target: `http://127.0.0.1:${upstream.port}`, port: 0, db: null, onWarning: () => {} });
    // Held until the proxy stops, whatever the machine's speed: the finding surely comes first.
    const telemetry = (await startTelemetry(proxy.engine.hub, { otlp: { url: `http://127.0.0.1:${collector.port}/v1/traces` }, warn: () => {}, holdMs: 600_000 }))!;
    let found = 0;
    const checks = attachLiveChecks(proxy.engine.hub, () => {}, { debounceMs: 0, onFinding: (f) => {
      if (f.ruleId === 'model-unknown-tool') found++;
      telemetry.onFinding(f);
    } });
    for (const { ex } of clientRequests('no-such-tool')) await sendRecorded(proxy.url, ex);
    await until(() => found > 0, 'the live finding');
    checks.stop();
    await proxy.close();
    await telemetry.close(10_000);
    await upstream.close();
    const turns = received.filter((s) => s.name.startsWith('chat ') && s.events?.some((e) => e.name === 'mcptap.finding'));
    expect(turns.length).toBeGreaterThan(0);
    const ev = turns[0].events!.find((e) => e.name === 'mcptap.finding')!;
    expect(ev.attributes.find((a) => a.key === 'mcptap.finding.rule')?.value.stringValue).toBe('model-unknown-tool');
  });
});

describe('bad flag values: one line, exit 2', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
  it.each([
    [['proxy', '--target', 'http://127.0.0.1:9', '--metrics', 'nine'], /--metrics needs \[HOST:\]PORT/],
    [['proxy', '--target', 'http://127.0.0.1:9', '--port', '0', '--otlp', 'not a url'], /--otlp needs an http\(s\) URL/],
    [['export', '--all'], /--all is for --otlp/],
    [['export', '--all', 'abc', '--otlp', 'http://127.0.0.1:4318'], /a session or --all, not both/],
  ])('%j', (args, message) => {
    const r = run(...args, '--db', tmp.db);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
