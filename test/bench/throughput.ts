import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/proxy/heap.js';
import { connectClient, type TransportKind } from '../helpers/peers.js';

// MCP calls through three paths — direct, a bare http-proxy, mcptap with full capture — measured in
// one run against the same real SDK server. Servers and proxies run in their own processes; this
// process only drives SDK clients.

export interface PathFigures {
  callsPerSec: number;
  p50: number;
  p99: number;
  /** CPU time the proxy process spent per call (user + system), when there is a proxy. */
  cpuMicrosPerCall?: number;
  /** Bytes the proxy's main thread allocated on its JS heap per call (see proxy-child.ts), when there is a proxy. */
  allocBytesPerCall?: number;
}
/** What mcptap's database holds after the runs: every record written, none cut or dropped. */
export interface StoredFigures {
  cut: number;
  dropped: number;
  pending: number;
}
export interface TransportFigures {
  transport: TransportKind;
  stored: StoredFigures;
  single: Record<'direct' | 'bare' | 'mcptap', PathFigures>;
  concurrent: Record<'direct' | 'bare' | 'mcptap', PathFigures>;
  /** mcptap ÷ bare calls/s: the median of the rounds' ratios (each round's two runs are back to back). */
  singleRatio: number;
  concurrentRatio: number;
}

type PathName = 'direct' | 'bare' | 'mcptap';
const ROUNDS = 5;
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Each path's median round by calls/s, with the median of the rounds' CPU and allocations per call. */
const medianRound = (rounds: PathFigures[]): PathFigures => {
  const mid = [...rounds].sort((a, b) => a.callsPerSec - b.callsPerSec)[Math.floor(rounds.length / 2)];
  if (mid.cpuMicrosPerCall == null) return mid;
  return { ...mid, cpuMicrosPerCall: median(rounds.map((r) => r.cpuMicrosPerCall!)), allocBytesPerCall: median(rounds.map((r) => r.allocBytesPerCall!)) };
};

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

export function child(script: string, args: string[], execArgv: string[] = [], env?: Record<string, string>): Promise<{ proc: ChildProcess; msg: Record<string, string> }> {
  const proc = fork(here(script), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv, env: env ? { ...process.env, ...env } : undefined });
  return new Promise((resolve, reject) => {
    proc.once('message', (msg) => resolve({ proc, msg: msg as Record<string, string> }));
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

export async function stop(proc: ChildProcess): Promise<void> {
  const gone = new Promise((r) => proc.once('exit', r));
  if (proc.connected) proc.send('stop');
  const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(t);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

function endpoint(kind: TransportKind, base: string): string {
  if (kind === 'websocket') return base.replace(/^http/, 'ws') + '/';
  return base + (kind === 'sse' ? '/sse' : '/mcp');
}

function ask<T>(proc: ChildProcess, msg: string): Promise<T> {
  return new Promise((resolve) => {
    proc.once('message', (m) => resolve(m as T));
    proc.send(msg);
  });
}

/**
 * Calls for `seconds` from each client, back to back, after a warm-up. Through mcptap the clock runs
 * on until the proxy has written every captured record to its database: throughput with full capture
 * means calls captured and stored, not calls whose records are still queued.
 */
export async function run(kind: TransportKind, base: string, clients: number, seconds: number, proc?: ChildProcess, stored?: StoredFigures): Promise<PathFigures> {
  const conns = await Promise.all(Array.from({ length: clients }, (_, i) => connectClient(kind, endpoint(kind, base), { name: `bench-${i}` })));
  // Warm up until the JIT has settled: the figures are for a proxy that has been running a while.
  const warm = clients === 1 ? 300 : 30;
  await Promise.all(conns.map(async (c) => {
    for (let i = 0; i < warm; i++) await c.client.callTool({ name: 'echo', arguments: { message: 'warm' } });
  }));
  if (proc && stored) await ask(proc, 'flush');
  const lat: number[] = [];
  if (proc) await ask(proc, 'cpu-start');
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(conns.map(async (c, ci) => {
    for (let i = 0; performance.now() < until; i++) {
      const s = performance.now();
      await c.client.callTool({ name: 'echo', arguments: { message: `c${ci} call ${i}` } });
      lat.push(performance.now() - s);
    }
  }));
  if (proc && stored) {
    const f = await ask<{ written: number; cut: number; dropped: number; pending: number }>(proc, 'flush');
    stored.cut = f.cut;
    stored.dropped = f.dropped;
    stored.pending = f.pending;
  }
  const secs = (performance.now() - t0) / 1000;
  const used = proc ? await ask<{ cpuMicros: number; allocatedBytes: number }>(proc, 'cpu-read') : undefined;
  await Promise.all(conns.map((c) => c.close()));
  lat.sort((a, b) => a - b);
  return {
    callsPerSec: Math.round(lat.length / secs),
    p50: Math.round(pct(lat, 0.5) * 1000) / 1000,
    p99: Math.round(pct(lat, 0.99) * 1000) / 1000,
    ...(used ? { cpuMicrosPerCall: Math.round(used.cpuMicros / lat.length), allocBytesPerCall: Math.round(used.allocatedBytes / lat.length) } : {}),
  };
}

export async function benchThroughput(opts: { seconds?: number; transports?: TransportKind[] } = {}): Promise<TransportFigures[]> {
  // Long enough that the recorder's 100 ms batches and the GC's cycles average out within a window.
  const seconds = opts.seconds ?? 1.5;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-'));
  const servers = await child('server-peer.js', []);
  const out: TransportFigures[] = [];
  try {
    for (const kind of opts.transports ?? (['streamable-http', 'sse', 'websocket'] as TransportKind[])) {
      const target = servers.msg[kind];
      const bare = await child('bare-proxy.js', [target]);
      // mcptap runs as the `mcptap` command starts it.
      const tap = await child('mcptap-proxy.js', [target, path.join(dir, `${kind}.db`)], NODE_FLAGS);
      const paths = { direct: target, bare: bare.msg.url, mcptap: tap.msg.url };
      const procs = { direct: undefined, bare: bare.proc, mcptap: tap.proc };
      const stored: StoredFigures = { cut: 0, dropped: 0, pending: 0 };
      const rounds = { single: { direct: [], bare: [], mcptap: [] }, concurrent: { direct: [], bare: [], mcptap: [] } } as Record<'single' | 'concurrent', Record<PathName, PathFigures[]>>;
      // Interleaved rounds, and medians over them: drift on a shared machine hits every path alike, and
      // one lucky or unlucky round moves nothing.
      for (let round = 0; round < ROUNDS; round++) {
        for (const name of ['direct', 'bare', 'mcptap'] as const) {
          rounds.single[name].push(await run(kind, paths[name], 1, seconds, procs[name], name === 'mcptap' ? stored : undefined));
          rounds.concurrent[name].push(await run(kind, paths[name], 20, seconds, procs[name], name === 'mcptap' ? stored : undefined));
        }
      }
      const pick = (r: Record<PathName, PathFigures[]>) => ({ direct: medianRound(r.direct), bare: medianRound(r.bare), mcptap: medianRound(r.mcptap) });
      const ratio = (r: Record<PathName, PathFigures[]>) => median(r.mcptap.map((m, i) => m.callsPerSec / r.bare[i].callsPerSec));
      const single = pick(rounds.single);
      const concurrent = pick(rounds.concurrent);
      const singleRatio = ratio(rounds.single);
      const concurrentRatio = ratio(rounds.concurrent);
      await stop(bare.proc);
      await stop(tap.proc);
      out.push({ transport: kind, stored, single, concurrent, singleRatio, concurrentRatio });
    }
  } finally {
    await stop(servers.proc);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
