import { afterAll, describe, expect, it } from 'vitest';
import { attachLiveChecks } from '../src/analysis/checks/live.js';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { connectClient, echoServer, startWsServer, type Peer } from './helpers/peers.js';

// The live checks run beside the traffic, never instead of it: under a flood of real calls they
// keep to their share of the CPU, and still run.

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
    // No debounce: without the budget, a round would start after every message.
    const live = attachLiveChecks(proxy.engine.hub, () => {}, { debounceMs: 0 });
    const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => connectClient('websocket', proxy.url.replace(/^http/, 'ws') + '/', { name: `load-${i}` })));
    const t0 = performance.now();
    let calls = 0;
    await Promise.all(clients.map(async (c, ci) => {
      while (performance.now() - t0 < 2000) {
        const r = await c.client.callTool({ name: 'echo', arguments: { message: `c${ci} ${calls++}` } });
        expect((r.content as Array<{ text: string }>)[0].text).toMatch(/^c\d+ \d+$/);
      }
    }));
    const elapsed = performance.now() - t0;
    const { rounds, busyMs } = live.stats();
    live.stop();
    await Promise.all(clients.map((c) => c.close()));
    expect(calls).toBeGreaterThan(1000);
    expect(rounds).toBeGreaterThan(1);
    // A 2% budget; the first round has nothing before it to wait for, hence the slack.
    expect(busyMs / elapsed).toBeLessThan(0.1);
  });
});
