import { startProxy } from '../../src/proxy/server.js';
import { serveBenchChild } from './proxy-child.js';

// mcptap with full capture (decode, correlate, store to SQLite), as `mcptap proxy` runs it. 'flush'
// waits until every captured record is in the database and says how many were written and cut.
const proxy = await startProxy({ target: process.argv[2], port: 0, db: process.argv[3], onWarning: () => {} });
process.send!({ url: proxy.url });
serveBenchChild(() => proxy.close(), async () => {
  await proxy.flush();
  const s = proxy.stats();
  return { written: s.written, pending: s.pendingWrites, dropped: s.droppedWrites, cut: s.cutPayloads };
});
