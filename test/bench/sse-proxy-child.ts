import { startProxy } from '../../src/proxy/server.js';
import { attachLiveChecks } from '../../src/analysis/checks/live.js';
import { CaptureStore } from '../../src/store/read.js';

// The proxy of the SSE bench, alone in its process: its RSS growth is mcptap's and nothing else's.
// It runs as `mcptap proxy` does, live checks included (their windows once held every payload).
// argv: target, db. Replies to 'rss' with { base, peak } in bytes and what the database holds;
// 'stop' flushes and exits.

const proxy = await startProxy({ target: process.argv[2], port: 0, db: process.argv[3], onWarning: () => {} });
attachLiveChecks(proxy.engine.hub, () => {});
// The recorder thread is up once a flush comes back: its start is not growth.
await proxy.flush();
global.gc?.();
const base = process.memoryUsage().rss;
let peak = base;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
process.send!({ url: proxy.url });
process.on('message', async (m) => {
  if (m === 'rss') {
    await proxy.flush();
    peak = Math.max(peak, process.memoryUsage().rss);
    // The figure counts only if everything was kept: every event a message, none cut.
    const store = CaptureStore.open(process.argv[3], { readonly: true });
    const messages = store.listSessions().reduce((n, s) => n + s.messageCount, 0);
    const cut = store.listSessions().reduce((n, s) => n + store.messages(s.id).filter((m) => m.truncated).length, 0);
    store.close();
    process.send!({ base, peak, messages, cut });
  } else if (m === 'stop') {
    clearInterval(sampler);
    await proxy.close();
    process.exit(0);
  }
});
