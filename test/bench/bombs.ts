import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { startProxy } from '../../src/proxy/server.js';

// Hostile input against the capture's limits (issue 20): four event streams at once, each 1.6 KB of brotli that
// inflates to 1 GiB with no newline, then twenty 8 MB text/plain POSTs such as a web page could send. Forwarding is
// never limited: every client must get every byte. The figures are the peak RSS growth of this process (proxy and
// clients together) and what reached the database.

export interface BombFigures {
  bombBytes: number;
  clientBytes: number[];
  streamPeakRssMb: number;
  postsDiskMb: number;
  postsPeakRssMb: number;
  limited: Record<string, number>;
}

/** The bomb, compressed once as it is written (1 GiB of 'a' after `data: `, never a newline). */
async function bombFile(dir: string): Promise<Buffer> {
  const file = path.join(dir, 'bomb.br');
  const br = zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
  const out = fs.createWriteStream(file);
  br.pipe(out);
  br.write('data: ');
  const mb = Buffer.alloc(1024 * 1024, 'a');
  for (let i = 0; i < 1024; i++) if (!br.write(mb)) await new Promise<void>((r) => br.once('drain', () => r()));
  br.end();
  await new Promise<void>((r) => out.on('finish', () => r()));
  return fs.readFileSync(file);
}

export async function benchBombs(): Promise<BombFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-bombs-'));
  try {
    const bomb = await bombFile(dir);
    const up = http.createServer((req, res) => {
      req.resume();
      if (req.url === '/bomb') return void res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'br' }).end(bomb);
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const db = path.join(dir, 'b.db');
    const proxy = await startProxy({ target: `http://127.0.0.1:${(up.address() as { port: number }).port}`, port: 0, db, onWarning: () => {} });
    (globalThis as { gc?: () => void }).gc?.();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const get = () => new Promise<number>((r) => http.get(proxy.url + '/bomb', (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => r(n));
    }));
    const clientBytes = await Promise.all([get(), get(), get(), get()]);
    await proxy.flush();
    const streamPeakRssMb = Math.round((peak - rss0) / 1e6);
    const body = Buffer.alloc(8 * 1024 * 1024, 't');
    const post = () => new Promise((r) => {
      const q = http.request(proxy.url + '/upload', { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': 'a web page' } }, (res) => {
        res.resume();
        res.on('end', r);
      });
      q.end(body);
    });
    await Promise.all(Array.from({ length: 20 }, post));
    await proxy.flush();
    const limited = { ...proxy.stats().limited };
    await proxy.close();
    clearInterval(sample);
    await new Promise<void>((r) => up.close(() => r()));
    const postsDiskMb = Math.round([db, `${db}-wal`].reduce((n, f) => n + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0) / 1e6);
    return { bombBytes: bomb.length, clientBytes, streamPeakRssMb, postsDiskMb, postsPeakRssMb: Math.round((peak - rss0) / 1e6), limited };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
