import { benchRecorder } from './recorder.js';
import { benchSseStream } from './sse-stream.js';
import { benchIdleStreams, benchSlowReader } from './streams.js';
import { benchThroughput, type PathFigures } from './throughput.js';
import type { TransportKind } from '../helpers/peers.js';

// `npm run bench`: every figure is measured in this one run, and proxy figures are ratios against a
// bare http-proxy measured alongside, so they mean the same on a fast or a slow machine.

// `npm run bench -- throughput websocket` runs one part, for one transport.
const TRANSPORTS: TransportKind[] = ['streamable-http', 'sse', 'websocket'];
const args = process.argv.slice(2);
const only = new Set(args.filter((a) => !TRANSPORTS.includes(a as TransportKind)));
const transports = args.filter((a): a is TransportKind => TRANSPORTS.includes(a as TransportKind));
// The SDK's legacy SSE client adds an abort listener per request; its leak warning is not ours.
process.removeAllListeners('warning');
const want = (name: string) => only.size === 0 || only.has(name);
const lines: string[] = [];
const say = (s = '') => {
  lines.push(s);
  process.stdout.write(s + '\n');
};
const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
const kb = (bytes: number | undefined) => (bytes == null ? '?' : (bytes / 1024).toFixed(1));

say(`mcptap bench — node ${process.version}, ${new Date().toISOString()}`);

if (want('throughput')) {
  const rows = await benchThroughput({ transports: transports.length ? transports : undefined });
  say('');
  say('MCP tools/call for 1.5 s per path and round, 5 interleaved rounds (medians; mcptap/bare is the median of the rounds\' ratios), real SDK server;');
  say('bare = http-proxy with keep-alive agent, no capture;');
  say('mcptap = as `mcptap proxy` runs it (full capture, live checks), timed until every record is in SQLite');
  say('proxy CPU/call: user + system time of the proxy process (every thread) per call; alloc/call: bytes its main thread allocated on the JS heap per call');
  say('transport        clients  direct calls/s  bare calls/s  mcptap calls/s  mcptap/bare  p50 bare→mcptap (ms)  added p50   p99 mcptap  proxy CPU/call bare→mcptap  alloc/call bare→mcptap');
  for (const r of rows) {
    const st = r.stored;
    const intact = st.cut === 0 && st.dropped === 0 && st.pending === 0;
    for (const [label, set, ratio] of [['1', r.single, r.singleRatio], ['20', r.concurrent, r.concurrentRatio]] as const) {
      const s = set as Record<'direct' | 'bare' | 'mcptap', PathFigures>;
      const added = s.mcptap.p50 - s.bare.p50;
      say(`${r.transport.padEnd(16)} ${label.padStart(7)}  ${String(s.direct.callsPerSec).padStart(14)}  ${String(s.bare.callsPerSec).padStart(12)}  ${String(s.mcptap.callsPerSec).padStart(14)}  ${ratio.toFixed(2).padStart(6)} ${mark(ratio >= (r.transport === 'websocket' ? 0.85 : 0.9)).padEnd(6)} ${`${s.bare.p50.toFixed(3)}→${s.mcptap.p50.toFixed(3)}`.padStart(20)}  ${added.toFixed(3).padStart(6)} ${mark(label === '20' || added <= 0.5).padEnd(6)} ${s.mcptap.p99.toFixed(2).padStart(8)}  ${`${s.bare.cpuMicrosPerCall}→${s.mcptap.cpuMicrosPerCall} µs`.padStart(26)}  ${`${kb(s.bare.allocBytesPerCall)}→${kb(s.mcptap.allocBytesPerCall)} KB`.padStart(22)}`);
    }
    if (!intact) say(`${r.transport.padEnd(16)} mcptap stored records cut ${st.cut}, dropped ${st.dropped}, unwritten ${st.pending}: MISSED`);
  }
}

if (want('hold')) {
  const { benchHold } = await import('./hold.js');
  const rows = await benchHold({ transports: transports.length ? transports : undefined });
  say('');
  say('proxy --hold with a filter that matches nothing, vs the same proxy without it (full capture; 5 interleaved rounds of 1.5 s, medians):');
  say('c2s = a client-side filter (POST bodies read whole before forwarding); s2c = dir:s2c (server events and frames cut and matched one by one)');
  say('transport        clients  mcptap calls/s  c2s calls/s  s2c calls/s  c2s/mcptap  s2c/mcptap  p50 mcptap  added p50 c2s  added p50 s2c  CPU/call mcptap→c2s→s2c');
  for (const r of rows) {
    const m = r.modes;
    say(`${r.transport.padEnd(16)} ${String(r.clients).padStart(7)}  ${String(m.plain.callsPerSec).padStart(14)}  ${String(m.c2s.callsPerSec).padStart(11)}  ${String(m.s2c.callsPerSec).padStart(11)}  ${r.ratio.c2s.toFixed(2).padStart(10)}  ${r.ratio.s2c.toFixed(2).padStart(10)}  ${m.plain.p50.toFixed(3).padStart(10)}  ${r.addedP50.c2s.toFixed(3).padStart(13)}  ${r.addedP50.s2c.toFixed(3).padStart(13)}  ${`${m.plain.cpuMicrosPerCall}→${m.c2s.cpuMicrosPerCall}→${m.s2c.cpuMicrosPerCall} µs`.padStart(24)}`);
  }
}

if (want('otlp')) {
  const { benchOtlp } = await import('./otlp.js');
  const r = await benchOtlp();
  say('');
  say(`OTLP to a dead collector (connection refused), Streamable HTTP, 1 client, 7 interleaved rounds (medians; the ratio is the median of the rounds' ratios): mcptap ${r.plain.callsPerSec} calls/s, with --otlp ${r.otlp.callsPerSec} calls/s: ratio ${r.ratio.toFixed(2)} (target ≥ 0.95: ${mark(r.ratio >= 0.95)}); p50 ${r.plain.p50.toFixed(3)}→${r.otlp.p50.toFixed(3)} ms; proxy CPU/call ${r.plain.cpuMicrosPerCall}→${r.otlp.cpuMicrosPerCall} µs; ${r.spansDropped} spans dropped and counted`);
  say(`OTLP exporter CPU per span (build, serialise, send to a local collector that takes them): ${r.exporterCpuMicrosPerSpan} µs; what --otlp adds per tools/call with a dead collector (hub events → span → queue, dropped): ${r.deadCpuMicrosPerCall} µs`);
}

if (want('recorder')) {
  const r = await benchRecorder();
  say('');
  say(`recorder: ${r.messages} messages in ${r.ms} ms = ${r.perSecond} messages/s (target ≥ 20,000: ${mark(r.perSecond >= 20_000)}); none dropped`);
}

// `sse-stream`, not `sse`: that names the transport (throughput over legacy SSE only).
if (want('sse-stream')) {
  const r = await benchSseStream(200);
  say('');
  say(`SSE stream: ${r.mb} MB in ${r.events} events through full capture and live checks in ${r.seconds}s, ${r.stored} messages stored (${r.cut} cut); RSS growth ${r.rssGrowthMb} MB (target < 64: ${mark(r.rssGrowthMb < 64)}); first event reached the client ${r.firstEventMs} ms after the upstream wrote it`);
}

if (want('bombs')) {
  const { benchBombs } = await import('./bombs.js');
  const r = await benchBombs();
  const whole = r.clientBytes.every((n) => n === r.bombBytes);
  say('');
  say(`bombs: four ${(r.bombBytes / 1024).toFixed(1)} KB brotli event streams inflating to 1 GiB each with no newline, at once: every client got every byte (${mark(whole)}); peak RSS growth of the process holding proxy and clients ${r.streamPeakRssMb} MB (bound < 512: ${mark(r.streamPeakRssMb < 512)}; before the limits: 4.2 GB and a crash)`);
  say(`bombs: twenty 8 MB text/plain POSTs from a page: database + WAL ${r.postsDiskMb} MB (bound < 128, twice the 64 MB a minute one client may store, for the WAL: ${mark(r.postsDiskMb < 128)}; before: 273–281 MB); peak RSS growth over both ${r.postsPeakRssMb} MB; limits applied ${JSON.stringify(r.limited)}`);
}

if (want('forward')) {
  const { benchForward } = await import('./forward.js');
  for (const line of await benchForward()) say(line);
}

if (want('model')) {
  const { benchModelApi } = await import('./model-api.js');
  say('');
  for (const line of await benchModelApi()) say(line);
}

if (want('streams')) {
  const r = await benchIdleStreams(Number(process.env.MCPTAP_BENCH_STREAMS ?? 2000));
  say('');
  say(`idle SSE streams: ${r.streams} held open at once: proxy fds ${r.fdsBefore} → ${r.fdsHeld} (${r.fdsPerStream} per stream), ${r.fdsAfter} after they closed; RSS growth ${r.rssGrowthMb} MB (${r.rssKbPerStream} KB per stream)`);
}

if (want('slow-reader')) {
  // `MCPTAP_BENCH_SLOW_MB=20 npm run bench -- slow-reader` for a shorter run; the default reads 200 MB at 1 MB/s.
  const r = await benchSlowReader(Number(process.env.MCPTAP_BENCH_SLOW_MB ?? 200), 1);
  say('');
  say(`slow reader: ${r.mb} MB read at ${r.readMbPerSec} MB/s in ${r.seconds} s; the upstream was at most ${r.upstreamAheadMaxMb} MB ahead of the reader (backpressure); proxy RSS growth ${r.rssGrowthMb} MB (target < 64: ${mark(r.rssGrowthMb < 64)}); ${r.messagesStored} of ${r.eventsSent} events stored`);
}

for (const [name, mod, fn] of [['diff', './diff.js', 'benchDiff'], ['tui', './tui.js', 'benchTui'], ['links', './links.js', 'benchLinks']] as const) {
  if (!want(name)) continue;
  let bench: (() => Promise<Record<string, number>>) | undefined;
  try {
    bench = (await import(mod))[fn];
  } catch {
    bench = undefined;
  }
  if (!bench) continue;
  const r = await bench();
  say('');
  say(`${name}: ${Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}
