import { afterAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { connectClient, startSseServer, startStreamableServer, type Peer, type TransportKind } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// One pass per exchange: each HTTP exchange is published to the hub once per state change (request
// whole, head with its session, finished), and what is stored is its final state.

const tmp = tempDb();
const open: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of open.reverse()) await c().catch(() => {});
  tmp.cleanup();
});

describe.each([['streamable-http', startStreamableServer], ['sse', startSseServer]] as const)('%s', (kind, start) => {
  it('publishes each exchange at most three times, and stores its final state', async () => {
    const server: Peer = await start({});
    open.push(() => server.close());
    const proxy: RunningProxy = await startProxy({ target: server.url, port: 0, db: tmp.db, label: `publish-${kind}`, onWarning: () => {} });
    open.push(() => proxy.close());
    const publishes = new Map<string, number>();
    proxy.engine.hub.on('exchange', (e) => void publishes.set(e.id, (publishes.get(e.id) ?? 0) + 1));
    const c = await connectClient(kind as TransportKind, proxy.url + new URL(server.endpoint).pathname);
    await c.client.callTool({ name: 'echo', arguments: { message: 'once' } });
    await c.close();
    await proxy.flush();
    expect(publishes.size).toBeGreaterThan(2);
    expect(Math.max(...publishes.values())).toBeLessThanOrEqual(3);
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const exchanges = store.listSessions().filter((s) => s.label === `publish-${kind}`).flatMap((s) => store.exchanges(s.id));
      expect(exchanges.length).toBe(publishes.size);
      expect(exchanges.filter((e) => e.method === 'POST').every((e) => e.status != null && e.endedAt != null && e.sessionId != null)).toBe(true);
    } finally {
      store.close();
    }
  });
});
