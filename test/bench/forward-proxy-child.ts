import { startProxy } from '../../src/proxy/server.js';
import { CaptureStore } from '../../src/store/read.js';
import { serveBenchChild } from './proxy-child.js';

// `mcptap proxy --forward` in its own process for the bench: argv = database, CA folder, upstream CA file. It
// intercepts `localhost` and tunnels anything else (the bench's `127.0.0.1` server) blind. 'flush' answers with
// the CONNECTs recorded since the last one.
const [db, caDir, upstreamCa] = process.argv.slice(2);
const proxy = await startProxy({
  forward: { policy: { all: false, hosts: ['localhost'], passthrough: [] }, upstreamCa: [upstreamCa], caDir },
  port: 0, db, onWarning: () => {},
});
process.send!({ port: String(proxy.port) });
let counted = 0;
serveBenchChild(() => proxy.close(), async () => {
  await proxy.flush();
  const store = CaptureStore.open(db, { readonly: true });
  try {
    const all = store.listSessions().flatMap((s) => store.exchanges(s.id)).filter((e) => e.method === 'CONNECT').length;
    const connects = all - counted;
    counted = all;
    return { written: proxy.stats().written, connects };
  } finally {
    store.close();
  }
});
