import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { listen } from './helpers/peers.js';
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
