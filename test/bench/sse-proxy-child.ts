import { startProxy } from '../../src/proxy/server.js';

// The proxy of the SSE bench, alone in its process: its RSS growth is mcptap's and nothing else's.
// argv: target, db. Replies to 'rss' with { base, peak } in bytes; 'stop' flushes and exits.

const proxy = await startProxy({ target: process.argv[2], port: 0, db: process.argv[3], onWarning: () => {} });
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
    process.send!({ base, peak });
  } else if (m === 'stop') {
    clearInterval(sampler);
    await proxy.close();
    process.exit(0);
  }
});
