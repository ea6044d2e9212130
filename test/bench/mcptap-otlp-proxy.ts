import { startProxy } from '../../src/proxy/server.js';
import { attachLiveChecks } from '../../src/analysis/checks/live.js';
import { startTelemetry } from '../../src/telemetry/setup.js';
import { serveBenchChild } from './proxy-child.js';

// mcptap as `mcptap proxy --otlp URL` runs it, URL a collector that is not there (argv[4]): full
// capture, live checks, and every exchange a span that the exporter queues, fails to send and drops.
const proxy = await startProxy({ target: process.argv[2], port: 0, db: process.argv[3], onWarning: () => {} });
const telemetry = await startTelemetry(proxy.engine.hub, { otlp: { url: process.argv[4] }, warn: () => {} });
attachLiveChecks(proxy.engine.hub, () => {}, { onFinding: (f) => telemetry?.onFinding(f) });
process.send!({ url: proxy.url });
serveBenchChild(async () => {
  await proxy.close();
  await telemetry?.close(100);
}, async () => {
  await proxy.flush();
  const s = proxy.stats();
  const t = telemetry?.stats();
  return { written: s.written, pending: s.pendingWrites, dropped: s.droppedWrites, cut: s.cutPayloads, spansDropped: t?.dropped ?? 0, spansQueued: t?.queued ?? 0 };
});
