import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/proxy/heap.js';

/**
 * A long SSE stream through the full capture path (decode every event, store every message). The
 * upstream and the client run in one child process, the proxy in another, so the proxy's RSS
 * growth is measured on a fresh process of its own, started with the flags the `mcptap` command uses.
 */
export async function benchSseStream(totalMb = 200): Promise<{ mb: number; events: number; stored: number; cut: number; rssGrowthMb: number; firstEventMs: number; seconds: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-'));
  const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
  const next = <T>(p: ChildProcess) => new Promise<T>((resolve) => p.once('message', (m) => resolve(m as T)));
  const peer = fork(here('./sse-peer.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await next<{ port: number }>(peer);
  const proxy = fork(here('./sse-proxy-child.js'), [`http://127.0.0.1:${port}`, path.join(dir, 'bench.db')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc', ...NODE_FLAGS] });
  const { url } = await next<{ url: string }>(proxy);
  const done = new Promise<{ firstEventMs: number; bytes: number; seconds: number; events: number }>((resolve) => {
    peer.on('message', (m: { done?: boolean; firstEventMs: number; bytes: number; seconds: number; events: number }) => m.done && resolve(m));
  });
  peer.send({ run: url, mb: totalMb });
  const result = await done;
  proxy.send('rss');
  const { base, peak, messages, cut } = await next<{ base: number; peak: number; messages: number; cut: number }>(proxy);
  proxy.send('stop');
  await new Promise((r) => proxy.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    mb: Math.round(result.bytes / 1024 / 1024),
    events: result.events,
    stored: messages,
    cut,
    rssGrowthMb: Math.round(((peak - base) / 1024 / 1024) * 10) / 10,
    firstEventMs: Math.round(result.firstEventMs * 1000) / 1000,
    seconds: Math.round(result.seconds * 10) / 10,
  };
}
