import { startProxy } from '../../src/proxy/server.js';
import { attachLiveChecks } from '../../src/analysis/checks/live.js';
import { serveBenchChild } from './proxy-child.js';

// mcptap as `mcptap proxy` runs it: full capture (decode, correlate, store to SQLite) and the live
// checks. 'flush' waits until every captured record is in the database and says how many were
// written and cut.
const proxy = await startProxy({ target: process.argv[2], port: 0, db: process.argv[3], onWarning: () => {} });
attachLiveChecks(proxy.engine.hub, () => {});
process.send!({ url: proxy.url });
serveBenchChild(() => proxy.close(), async () => {
  await proxy.flush();
  const s = proxy.stats();
  return { written: s.written, pending: s.pendingWrites, dropped: s.droppedWrites, cut: s.cutPayloads };
});
