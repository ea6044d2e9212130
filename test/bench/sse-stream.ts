import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startProxy } from '../../src/proxy/server.js';

/**
 * A long SSE stream through the full capture path (decode every event, store every message). The
 * upstream and the client run in a child process, so this process's RSS growth is the proxy's own.
 */
export async function benchSseStream(totalMb = 200): Promise<{ mb: number; events: number; rssGrowthMb: number; firstEventMs: number; seconds: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-'));
  const child = fork(fileURLToPath(new URL('./sse-peer.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const proxy = await startProxy({ target: `http://127.0.0.1:${port}`, port: 0, db: path.join(dir, 'bench.db'), onWarning: () => {} });
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const result = await new Promise<{ firstEventMs: number; bytes: number; seconds: number; events: number }>((resolve) => {
    child.on('message', (m: { done?: boolean; firstEventMs: number; bytes: number; seconds: number; events: number }) => m.done && resolve(m));
    child.send({ run: proxy.url, mb: totalMb });
  });
  await proxy.flush();
  peak = Math.max(peak, process.memoryUsage().rss);
  clearInterval(sampler);
  await proxy.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    mb: Math.round(result.bytes / 1024 / 1024),
    events: result.events,
    rssGrowthMb: Math.round(((peak - base) / 1024 / 1024) * 10) / 10,
    firstEventMs: Math.round(result.firstEventMs * 1000) / 1000,
    seconds: Math.round(result.seconds * 10) / 10,
  };
}
