import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/proxy/heap.js';

interface Stats { rss: number; peak: number; fds: number; messages: number }

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;

/** A proxy process of its own in front of `target`, and a way to ask it for its figures. */
async function proxyChild(target: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-'));
  const child: ChildProcess = fork(here('./proxy-stats-child.js'), [target, path.join(dir, 'bench.db')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc', ...NODE_FLAGS] });
  const ask = <T>(m?: string) => new Promise<T>((resolve) => {
    child.once('message', (r) => resolve(r as T));
    if (m) child.send(m);
  });
  const { url } = await ask<{ url: string }>();
  return {
    url,
    ask,
    async stop() {
      child.send('stop');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

/**
 * `count` standalone GET streams held open at once, idle, as long-running Claude Code windows keep them:
 * the proxy's descriptors and RSS while they are open, per stream, and after they close.
 */
export async function benchIdleStreams(count = 2000): Promise<Record<string, number>> {
  const open = new Set<http.ServerResponse>();
  const up = await listen((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': String(req.headers['mcp-session-id']) });
    res.write(': open\n\n');
    open.add(res);
  });
  const proxy = await proxyChild(up.url);
  const before = await proxy.ask<Stats>('reset');
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const clients: http.ClientRequest[] = [];
  await Promise.all(Array.from({ length: count }, (_, i) => new Promise<void>((resolve, reject) => {
    const req = http.get(proxy.url + '/mcp', { agent, headers: { accept: 'text/event-stream', 'mcp-session-id': `idle-${i}` } }, (res) => res.once('data', () => resolve()));
    req.on('error', reject);
    clients.push(req);
  })));
  const held = await proxy.ask<Stats>('stats');
  for (const c of clients) c.destroy();
  for (const r of open) r.destroy();
  let after = await proxy.ask<Stats>('stats');
  // Sockets close on the proxy's next turns: ask until the count settles.
  for (let i = 0; i < 50 && after.fds > before.fds + 10; i++) after = await proxy.ask<Stats>('stats');
  await proxy.stop();
  up.server.closeAllConnections();
  up.server.close();
  return {
    streams: count,
    fdsBefore: before.fds,
    fdsHeld: held.fds,
    fdsPerStream: Math.round(((held.fds - before.fds) / count) * 100) / 100,
    fdsAfter: after.fds,
    rssGrowthMb: mb(held.peak - before.rss),
    rssKbPerStream: Math.round((held.peak - before.rss) / 1024 / count * 10) / 10,
  };
}

/**
 * A client that reads a `totalMb` event stream at `mbPerSec` while the upstream writes as fast as it
 * may: the proxy's RSS growth, how far the upstream got ahead of the reader (backpressure reaching it
 * keeps this to the socket buffers), and whether every event was stored.
 */
export async function benchSlowReader(totalMb = 200, mbPerSec = 1): Promise<Record<string, number>> {
  const EVENT_KB = 64;
  const events = Math.round((totalMb * 1024) / EVENT_KB);
  const data = 'x'.repeat(EVENT_KB * 1024 - 100);
  let written = 0;
  let read = 0;
  let maxAhead = 0;
  const up = await listen((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'slow-reader' });
    let i = 0;
    const more = () => {
      while (i < events) {
        const chunk = `data: {"jsonrpc":"2.0","method":"notifications/message","params":{"data":"${data}","n":${i++}}}\n\n`;
        written += chunk.length;
        maxAhead = Math.max(maxAhead, written - read);
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  const proxy = await proxyChild(up.url);
  const before = await proxy.ask<Stats>('reset');
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    http.get(proxy.url + '/mcp', { headers: { accept: 'text/event-stream', 'mcp-session-id': 'slow-reader' } }, (res) => {
      res.on('data', (c: Buffer) => {
        read += c.length;
        // Ahead of the reading rate: stop reading until the schedule catches up.
        const due = (read / (mbPerSec * 1024 * 1024)) * 1000 - (performance.now() - t0);
        if (due > 1) {
          res.pause();
          setTimeout(() => res.resume(), due);
        }
      });
      res.on('end', () => resolve());
    }).on('error', reject);
  });
  const seconds = (performance.now() - t0) / 1000;
  const after = await proxy.ask<Stats>('stats');
  await proxy.stop();
  up.server.close();
  return {
    mb: mb(read),
    seconds: Math.round(seconds),
    readMbPerSec: Math.round((mb(read) / seconds) * 100) / 100,
    upstreamAheadMaxMb: mb(maxAhead),
    rssGrowthMb: mb(after.peak - before.rss),
    eventsSent: events,
    messagesStored: after.messages,
  };
}
