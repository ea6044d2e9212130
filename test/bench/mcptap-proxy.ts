import { startProxy } from '../../src/proxy/server.js';
import { Interceptor } from '../../src/proxy/intercept.js';
import { attachLiveChecks } from '../../src/analysis/checks/live.js';
import { serveBenchChild } from './proxy-child.js';

// mcptap as `mcptap proxy` runs it: full capture (decode, correlate, store to SQLite) and the live
// checks. 'flush' waits until every captured record is in the database and says how many were
// written and cut.
// MCPTAP_BENCH_INTERCEPT=FILTER: as `proxy --hold FILTER` runs (give one that matches nothing, to
// measure what intercepting costs the traffic it lets through).
const intercept = process.env.MCPTAP_BENCH_INTERCEPT;
const proxy = await startProxy({ target: process.argv[2], port: 0, db: process.argv[3], onWarning: () => {}, interceptor: intercept ? new Interceptor(intercept) : undefined });
attachLiveChecks(proxy.engine.hub, () => {});
process.send!({ url: proxy.url });
serveBenchChild(() => proxy.close(), async () => {
  await proxy.flush();
  const s = proxy.stats();
  return { written: s.written, pending: s.pendingWrites, dropped: s.droppedWrites, cut: s.cutPayloads };
});
