import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { attachLiveChecks, type LiveClock } from '../src/analysis/checks/live.js';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { connectClient, echoServer, startGatewayLikeServer, startJsonServer, startRawHttpServer, startWsServer, type Peer } from './helpers/peers.js';
import { until } from './helpers/tmp.js';

// The live checks run beside the traffic, never instead of it: under a flood of real calls they
// keep to their share of the CPU, and still run.

/**
 * A clock every reading of which moves it on 1 ms (so a round "takes" 1 ms); a timer fires on the
 * next turn of the event loop and moves the clock to when it was due.
 */
function steppingClock(): LiveClock & { time(): number } {
  let t = 0;
  return {
    time: () => t,
    now: () => ++t,
    after(ms, fn) {
      let live = true;
      const due = t + ms;
      setImmediate(() => {
        if (!live) return;
        t = Math.max(t, due);
        fn();
      });
      return { cancel: () => void (live = false) };
    },
  };
}

let server: Peer;
let proxy: RunningProxy;

afterAll(async () => {
  await proxy?.close();
  await server?.close();
});

describe('live checks under load', () => {
  it('take at most their CPU budget, however often traffic asks for a round', async () => {
    server = await startWsServer({ factory: echoServer });
    proxy = await startProxy({ target: server.url, port: 0, db: null, onWarning: () => {} });
    // The budget on a clock of the test's own, so the machine's speed cannot change the outcome.
    const clock = steppingClock();
    // No debounce: without the budget, a round would start after every message.
    const live = attachLiveChecks(proxy.engine.hub, () => {}, { debounceMs: 0, clock });
    const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => connectClient('websocket', proxy.url.replace(/^http/, 'ws') + '/', { name: `load-${i}` })));
    const CALLS = 40;
    await Promise.all(clients.map(async (c, ci) => {
      for (let i = 0; i < CALLS; i++) {
        const r = await c.client.callTool({ name: 'echo', arguments: { message: `c${ci} ${i}` } });
        expect((r.content as Array<{ text: string }>)[0].text).toBe(`c${ci} ${i}`);
      }
    }));
    await proxy.flush();
    const { rounds, busyMs } = live.stats();
    live.stop();
    await Promise.all(clients.map((c) => c.close()));
    expect(rounds).toBeGreaterThan(1);
    // 400 calls asked for a round each time; a round that took 1 ms waits 50 before the next.
    expect(rounds).toBeLessThan(CALLS * 10);
    // A 2% budget; the first round has nothing before it to wait for.
    expect(busyMs).toBeLessThanOrEqual(0.02 * clock.time() + 1);
  });

  it('hold the start of a big payload, not the payload: a stream of big events does not grow their memory', async () => {
    const EVENTS = 300;
    const events = Array.from({ length: EVENTS }, (_, i) =>
      `id: ${i}\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x'.repeat(100_000) + i } })}\n\n`);
    const bytes = Buffer.byteLength(events.join(''));
    const open = new Set<http.ServerResponse>();
    const upstream = await startRawHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'big-events' });
      for (const e of events) res.write(e);
      open.add(res);
    });
    const p = await startProxy({ target: upstream.url, port: 0, db: null, onWarning: () => {} });
    const live = attachLiveChecks(p.engine.hub, () => {});
    try {
      // The client reads the whole stream, which stays open: the session is live, its window in use.
      await new Promise<void>((resolve, reject) => {
        const req = http.request(p.url + '/mcp', { headers: { accept: 'text/event-stream', 'mcp-session-id': 'big-events' } }, (res) => {
          let got = 0;
          res.on('data', (c: Buffer) => {
            got += c.length;
            if (got >= bytes) resolve();
          });
        });
        req.on('error', reject);
        req.end();
      });
      await p.flush();
      const { heldChars } = live.stats();
      // 300 events of 100 KB: 30 M characters whole, 300 × 1,024 kept.
      expect(heldChars).toBeGreaterThan(EVENTS * 1000);
      expect(heldChars).toBeLessThanOrEqual(EVENTS * 1024 + 10_000);
    } finally {
      live.stop();
      for (const r of open) r.destroy();
      await p.close();
      await upstream.close();
    }
  });

  it('keep every page of a paginated tool list when they trim a window', async () => {
    // A server that lists its tools in two pages (a gateway with many servers behind it may).
    const upstream = await startJsonServer((m, res) => {
      if (m?.id == null) return void res.writeHead(202).end();
      const result = m.method === 'initialize' ? { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'paged', version: '1' } }
        : m.method === 'tools/list' ? (m.params?.cursor === 'p2' ? { tools: [{ name: 'tool_b', inputSchema: { type: 'object' } }] } : { tools: [{ name: 'tool_a', inputSchema: { type: 'object' } }], nextCursor: 'p2' })
          : m.method === 'tools/call' && ['tool_a', 'tool_b'].includes(m.params.name) ? { content: [{ type: 'text', text: 'ok' }] } : undefined;
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'paged' });
      res.end(JSON.stringify(result ? { jsonrpc: '2.0', id: m.id, result } : { jsonrpc: '2.0', id: m.id, error: { code: -32602, message: `Unknown tool: ${m.params?.name}` } }));
    });
    const p = await startProxy({ target: upstream.url, port: 0, db: null, onWarning: () => {} });
    const lines: string[] = [];
    const live = attachLiveChecks(p.engine.hub, (l) => lines.push(l), { debounceMs: 0, idleMs: 0 });
    let id = 1;
    const rpc = (method: string, params?: unknown) => fetch(p.url + '/mcp', {
      method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: id++, method, ...(params ? { params } : {}) }),
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'paged', 'mcp-protocol-version': '2025-11-25' },
    }).then((r) => r.json());
    try {
      await rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'paging', version: '1' } });
      await rpc('tools/list');
      await rpc('tools/list', { cursor: 'p2' });
      await rpc('tools/call', { name: 'tool_b', arguments: {} });
      await until(() => live.stats().idleWindows === 1, 'the quiet session to be trimmed');
      // A tool from the first page is known; one from neither page is not.
      await rpc('tools/call', { name: 'tool_a', arguments: {} });
      await rpc('tools/call', { name: 'tool_c', arguments: {} });
      await until(() => lines.some((l) => l.includes('[unknown-tool]')), 'the unknown-tool finding');
      await until(() => live.stats().idleWindows === 1, 'the next round');
      expect(lines.filter((l) => l.includes('[unknown-tool]')).map((l) => /tools\/call '?(\w+)/.exec(l)?.[1] ?? l)).toEqual(['tool_c']);
    } finally {
      live.stop();
      await p.close();
      await upstream.close();
    }
  });

  it('keep only the handshake and the tool list of a quiet session, and still check it when it wakes up', async () => {
    const gw = await startGatewayLikeServer({ prefix: 'db_main-' });
    const p = await startProxy({ target: gw.url, port: 0, db: null, onWarning: () => {} });
    const lines: string[] = [];
    // Idle at once: every round leaves a session that sent nothing since trimmed.
    const live = attachLiveChecks(p.engine.hub, (l) => lines.push(l), { debounceMs: 0, idleMs: 0 });
    const c = await connectClient('streamable-http', p.url + '/mcp', { name: 'quiet' });
    try {
      await c.client.listTools();
      const sql = `select 1 -- ${'x'.repeat(1000)}`;
      for (let i = 0; i < 100; i++) await c.client.callTool({ name: 'db_main-query', arguments: { sql } });
      await until(() => live.stats().idleWindows === 1, 'the quiet session to be trimmed');
      // 100 calls of over 1 KB each way are gone; the handshake and the tool list are what is left.
      expect(live.stats().heldChars).toBeLessThan(10_000);
      // It wakes up with a tool name from before the gateway: the kept tool list names the right one.
      await c.client.callTool({ name: 'list_schemas', arguments: {} }).catch(() => undefined);
      await until(() => lines.some((l) => l.includes('[unknown-tool]')), 'the unknown-tool finding');
      expect(lines.find((l) => l.includes('[unknown-tool]'))).toContain("db_main-list_schemas");
    } finally {
      live.stop();
      await c.close();
      await p.close();
      await gw.close();
    }
  });
});

describe('live output of folded findings', () => {
  it('prints the cause once, with what it explains, and says when later traffic only added consequences', async () => {
    // A stateful Streamable HTTP endpoint refusing a legacy SSE client's stream twice, in other words each time.
    let gets = 0;
    const upstream = await startRawHttpServer((_req, res) => {
      gets++;
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: gets === 1 ? 'Bad Request: No valid session ID provided' : 'Bad Request: session required' }, id: null }));
    });
    const p = await startProxy({ target: upstream.url, port: 0, db: null, onWarning: () => {} });
    const lines: string[] = [];
    const live = attachLiveChecks(p.engine.hub, (l) => lines.push(l), { debounceMs: 0 });
    const get = () => fetch(p.url + '/mcp/', { headers: { accept: 'text/event-stream', 'user-agent': 'claude-code/2.1.330 (sdk-cli)' } }).then((r) => r.text());
    try {
      await get();
      await until(() => lines.some((l) => l.includes('[transport-mismatch]')), 'the cause');
      await get();
      await until(() => lines.some((l) => l.includes('later traffic only added consequences')), 'the consequence line');
    } finally {
      live.stop();
      await p.close();
      await upstream.close();
    }
    const cause = 'GET /mcp/ answered 400: this is not a legacy SSE endpoint';
    // The cause is printed once; each consequence is told once, the second GET's on a line saying it only added that.
    expect(lines.filter((l) => l.includes(`: ${cause}`))).toHaveLength(1);
    expect(lines.every((l) => l.startsWith('check: error [transport-mismatch] session '))).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`later traffic only added consequences of "${cause}": \\[session-header\\] GET /mcp/ answered 400: .*session required`));
    expect(lines.join('\n').match(/session required/g)).toHaveLength(1);
  });
});
