import fs from 'node:fs';
import { startProxy } from '../../src/proxy/server.js';
import { attachLiveChecks } from '../../src/analysis/checks/live.js';
import { CaptureStore } from '../../src/store/read.js';

// A proxy alone in its process, as `mcptap proxy` runs it, for figures about the proxy only.
// argv: target, db. Messages: 'stats' → { rss, peak, fds, messages }; 'reset' starts a new peak;
// 'stop' flushes and exits.

const proxy = await startProxy({ target: process.argv[2], port: 0, db: process.argv[3], onWarning: () => {} });
attachLiveChecks(proxy.engine.hub, () => {});
await proxy.flush();
global.gc?.();
let peak = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
const fds = () => fs.readdirSync('/proc/self/fd').length;
process.send!({ url: proxy.url });
process.on('message', async (m) => {
  if (m === 'reset') {
    global.gc?.();
    peak = process.memoryUsage().rss;
    process.send!({ rss: peak, fds: fds() });
  } else if (m === 'stats') {
    await proxy.flush();
    global.gc?.();
    const store = CaptureStore.open(process.argv[3], { readonly: true });
    const messages = store.listSessions().reduce((n, s) => n + s.messageCount, 0);
    store.close();
    process.send!({ rss: process.memoryUsage().rss, peak, fds: fds(), messages });
  } else if (m === 'stop') {
    clearInterval(sampler);
    await proxy.close();
    process.exit(0);
  }
});
