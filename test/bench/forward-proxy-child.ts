import { startProxy } from '../../src/proxy/server.js';
import { serveBenchChild } from './proxy-child.js';

// `mcptap proxy --forward` in its own process for the bench: argv = database, CA folder, upstream CA file. It
// intercepts `localhost` and tunnels anything else (the bench's `127.0.0.1` server) blind.
const [db, caDir, upstreamCa] = process.argv.slice(2);
const proxy = await startProxy({
  forward: { policy: { all: false, hosts: ['localhost'], passthrough: [] }, upstreamCa: [upstreamCa], caDir },
  port: 0, db, onWarning: () => {},
});
process.send!({ port: String(proxy.port) });
serveBenchChild(() => proxy.close(), async () => {
  await proxy.flush();
  return { written: proxy.stats().written };
});
