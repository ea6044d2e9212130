import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startStreamableServer, type Peer } from '../helpers/peers.js';
import { until } from '../helpers/tmp.js';
import { freePort, startChild, type Child } from './peers.js';
import { prometheusPrograms, promQuery, startPrometheus } from './observability.js';

// Debian's Prometheus scraping `mcptap proxy --metrics` while the SDK client calls server-everything
// through it: PromQL sees every call; promtool accepts the exposition; a dead OTLP collector beside it
// costs dropped spans (counted on /metrics), never a call.

const CLI = path.resolve('dist/src/cli/main.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-prom-'));
const closers: Array<() => Promise<void>> = [];
let peer: Peer;
let proxy: Child;
let metricsUrl: string;
let proxyUrl: string;

beforeAll(async () => {
  peer = await startStreamableServer();
  closers.push(() => peer.close());
  const port = await freePort();
  proxyUrl = `http://127.0.0.1:${port}`;
  const mport = await freePort();
  // Port 9 (discard) has nothing listening on loopback: the collector is dead.
  proxy = await startChild('mcptap proxy', process.execPath, [CLI, 'proxy', '--target', peer.url, '--port', String(port), '--db', path.join(dir, 'c.db'),
    '--metrics', `127.0.0.1:${mport}`, '--otlp', 'http://127.0.0.1:9/v1/traces'], {
    port: mport, readyUrl: `http://127.0.0.1:${mport}/metrics`, ready: (s) => s === 200, cwd: process.cwd(),
  });
  closers.push(() => proxy.stop());
  metricsUrl = `http://127.0.0.1:${mport}/metrics`;
});

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('mcptap proxy --metrics scraped by Prometheus', () => {
  const N = 7;
  it(`counts ${N} tools/call in mcp_client_operation_duration_seconds, as PromQL reads it`, async () => {
    const prom = await startPrometheus(dir, new URL(metricsUrl).host);
    closers.push(() => prom.stop());
    const c = await connectClient('streamable-http', `${proxyUrl}/mcp`);
    for (let i = 0; i < N; i++) {
      const r = await c.client.callTool({ name: 'echo', arguments: { message: `n${i}` } });
      expect((r.content as Array<{ text: string }>)[0].text).toBe(`Echo: n${i}`);
    }
    await c.close();
    const q = 'sum(mcp_client_operation_duration_seconds_count{mcp_method_name="tools/call",gen_ai_tool_name="echo"})';
    let v: number | null = null;
    await until(async () => (v = await promQuery(prom.url, q)) === N, `${q} = ${N} in Prometheus (last: ${v})`, 60_000);
    expect(v).toBe(N);
    expect(await promQuery(prom.url, 'sum(mcp_client_operation_duration_seconds_count{mcp_method_name="initialize"})')).toBe(1);
    // server-everything's roots/list to the client, which the SDK client never answers, may still be waiting.
    expect(await promQuery(prom.url, 'mcptap_requests_in_flight')).toBeLessThanOrEqual(1);
  });

  it('passes promtool check metrics', async () => {
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toContain('# TYPE mcp_client_operation_duration_seconds histogram');
    expect(text).toContain('# TYPE gen_ai_client_token_usage histogram');
    const r = spawnSync(prometheusPrograms().promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('a dead collector: every call answered, the dropped spans counted on /metrics', async () => {
    const read = async () => Number(/^mcptap_otlp_spans_dropped_total (\d+)/m.exec(await (await fetch(metricsUrl)).text())?.[1] ?? 0);
    await until(async () => (await read()) >= N, 'dropped spans on /metrics', 90_000);
    expect(await read()).toBeGreaterThanOrEqual(N);
  });
});
