import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { NODE_FLAGS } from '../../src/proxy/heap.js';
import { OtlpSpanQueue } from '../../src/telemetry/exporter.js';
import { mcpSpan } from '../../src/telemetry/mcp-span.js';
import { spanIds } from '../../src/telemetry/span.js';
import { attachTelemetry } from '../../src/telemetry/live.js';
import { CaptureHub } from '../../src/capture/hub.js';
import type { RpcMessage, Session } from '../../src/model/model.js';
import { child, median, run, stop, type PathFigures } from './throughput.js';

// What `--otlp` costs the traffic when the collector is dead (target: ≥ 0.95 × throughput without),
// measured as interleaved rounds against the same SDK server; and the exporter's CPU per span with a
// collector that takes them.

const ROUNDS = 7;

export interface OtlpFigures {
  plain: PathFigures;
  otlp: PathFigures;
  ratio: number;
  spansDropped: number;
  exporterCpuMicrosPerSpan: number;
  /** Hub events of one tools/call to its span, queued for a dead collector (and dropped when the queue is full). */
  deadCpuMicrosPerCall: number;
}

export async function benchOtlp(seconds = 1.5): Promise<OtlpFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-otlp-'));
  const servers = await child('server-peer.js', []);
  const target = servers.msg['streamable-http'];
  // A port nothing listens on: connections are refused at once, and the exporter retries with back-off.
  const dead = await new Promise<number>((r) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => r(p));
    });
  });
  const plain = await child('mcptap-proxy.js', [target, path.join(dir, 'plain.db')], NODE_FLAGS);
  const otlp = await child('mcptap-otlp-proxy.js', [target, path.join(dir, 'otlp.db'), `http://127.0.0.1:${dead}/v1/traces`], NODE_FLAGS);
  const rounds: Record<'plain' | 'otlp', PathFigures[]> = { plain: [], otlp: [] };
  let spansDropped = 0;
  try {
    // Which goes first alternates: on a shared machine the load drifts within a round too.
    for (let i = 0; i < ROUNDS; i++) {
      for (const which of i % 2 ? (['otlp', 'plain'] as const) : (['plain', 'otlp'] as const)) {
        const c = which === 'plain' ? plain : otlp;
        rounds[which].push(await run('streamable-http', c.msg.url, 1, seconds, c.proc, { cut: 0, dropped: 0, pending: 0 }));
      }
    }
    spansDropped = await new Promise<number>((resolve) => {
      otlp.proc.once('message', (m) => resolve(Number((m as Record<string, number>).spansDropped)));
      otlp.proc.send('flush');
    });
  } finally {
    await stop(plain.proc);
    await stop(otlp.proc);
    await stop(servers.proc);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const mid = (xs: PathFigures[]) => [...xs].sort((a, b) => a.callsPerSec - b.callsPerSec)[Math.floor(xs.length / 2)];
  return {
    plain: mid(rounds.plain), otlp: mid(rounds.otlp), ratio: median(rounds.otlp.map((o, i) => o.callsPerSec / rounds.plain[i].callsPerSec)),
    spansDropped, exporterCpuMicrosPerSpan: await exporterCpuPerSpan(20_000), deadCpuMicrosPerCall: await deadCollectorCpuPerCall(20_000, dead),
  };
}

/**
 * CPU per call of what `--otlp` adds beside the capture when the collector is dead: the hub's request and
 * response events turned into a span and queued (then dropped, counted). In process, with the proxy's own
 * listener, so it is CPU time and not the shared machine's scheduling.
 */
async function deadCollectorCpuPerCall(n: number, deadPort: number): Promise<number> {
  const hub = new CaptureHub();
  const q = new OtlpSpanQueue({ url: `http://127.0.0.1:${deadPort}/v1/traces`, warn: () => {}, timeoutMs: 1000 });
  const live = attachTelemetry(hub, (s) => q.push(s));
  const session = benchSession();
  hub.emit('session', session);
  const payload = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' }, _meta: { progressToken: 1 } } });
  const answer = JSON.stringify({ jsonrpc: '2.0', id: 0, result: { content: [{ type: 'text', text: 'Echo: bench' }] } });
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const req = { ...benchMessage(session, 2 * i + 1, 'request'), payload };
    hub.emit('message', req, true);
    hub.emit('message', { ...benchMessage(session, 2 * i + 2, 'response'), payload: answer, correlatedSeq: req.seq }, true);
  }
  const cpu = process.cpuUsage(t0);
  live.stop();
  await Promise.race([q.close(), new Promise((r) => setTimeout(r, 1500))]);
  if (q.stats().dropped === 0) throw new Error('bench: the dead collector took spans');
  return Math.round(((cpu.user + cpu.system) / n) * 10) / 10;
}

function benchSession(): Session {
  return {
    id: 'b0b0b0b0b0b0', label: null, transport: 'streamable-http', target: 'http://127.0.0.1:4000', mcpSessionId: '0123456789abcdef', protocolVersion: '2025-11-25',
    clientInfo: null, serverInfo: null, clientCapabilities: null, serverCapabilities: null, startedAt: 0, endedAt: null, endReason: null, messageCount: 0, errorCount: 0, exchangeCount: 0,
  };
}

function benchMessage(session: Session, seq: number, kind: RpcMessage['kind']): RpcMessage {
  return {
    sessionId: session.id, seq, exchangeId: null, ts: Date.now(), direction: kind === 'request' ? 'client->server' : 'server->client', channel: 'response-sse', kind,
    rpcId: seq, method: 'tools/call', subject: 'echo', payload: '{}', truncated: false, size: 2, correlatedSeq: null, latencyMs: null, sseEventId: null, batchIndex: null,
    isError: false, errorCode: null, decodeError: null,
  };
}

/** CPU (user + system) per span to build, serialise and send spans to a local collector that answers 200. */
async function exporterCpuPerSpan(n: number): Promise<number> {
  let received = 0;
  const collector = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
  const session = benchSession();
  const msg = (seq: number, kind: RpcMessage['kind']) => benchMessage(session, seq, kind);
  const q = new OtlpSpanQueue({ url, maxQueue: n, warn: () => {} });
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) q.push(mcpSpan({ session, request: msg(2 * i, 'request'), response: msg(2 * i + 1, 'response') }, { traceId: spanIds.sessionTrace(session.id), parentSpanId: null }));
  await q.close();
  const cpu = process.cpuUsage(t0);
  await new Promise<void>((r) => collector.close(() => r()));
  if (q.stats().exported !== n || !received) throw new Error(`bench: the collector took ${q.stats().exported} of ${n} spans`);
  return Math.round(((cpu.user + cpu.system) / n) * 10) / 10;
}
