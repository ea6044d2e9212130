import { fork } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, ProxyAgent, request } from 'undici';
import { LeafIssuer } from '../../src/proxy/ca.js';
import { caFiles } from '../../src/proxy/ca-files.js';

// Forward mode: HTTPS requests through `mcptap proxy --forward` with interception (TLS ended and made again,
// full capture) against the same requests straight to the HTTPS server, in one run; and what a leaf
// certificate costs (the first connection to a new host) against one served from the cache.

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function rate(dispatcher: Agent | ProxyAgent, url: string, clients: number, ms: number): Promise<number> {
  let n = 0;
  const end = Date.now() + ms;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (Date.now() < end) {
      const r = await request(url, { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}', headers: { 'content-type': 'application/json' }, dispatcher });
      await r.body.text();
      n++;
    }
  }));
  return Math.round(n / (ms / 1000));
}

export async function benchForward(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-forward-'));
  try {
    const real = await LeafIssuer.load(caFiles(path.join(dir, 'real')));
    const { key, cert } = await real.leaf('localhost');
    const server = https.createServer({ key, cert }, (req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}]}}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://localhost:${(server.address() as { port: number }).port}/mcp`;
    const proxyCa = caFiles(path.join(dir, 'mcptap'));
    const child = fork(fileURLToPath(new URL('./forward-proxy-child.js', import.meta.url)), [path.join(dir, 'f.db'), proxyCa.dir, real.caPath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<string>((resolve) => child.once('message', (m) => resolve((m as { port: string }).port)));
    const realCa = fs.readFileSync(real.caPath, 'utf8');
    const rows: string[] = ['', 'forward mode (HTTPS through proxy --forward, intercepted and captured, vs straight to the server; 3 rounds of 1.5 s, medians):', 'clients  direct req/s  forward req/s  forward/direct'];
    for (const clients of [1, 20]) {
      const direct: number[] = [];
      const forwarded: number[] = [];
      for (let round = 0; round < 3; round++) {
        const a = new Agent({ connect: { ca: realCa }, connections: clients });
        direct.push(await rate(a, url, clients, 1500));
        await a.close();
        const p = new ProxyAgent({ uri: `http://127.0.0.1:${port}`, requestTls: { ca: fs.readFileSync(proxyCa.certPath, 'utf8') }, connections: clients });
        forwarded.push(await rate(p, url, clients, 1500));
        await p.close();
      }
      rows.push(`${String(clients).padStart(7)}  ${String(median(direct)).padStart(12)}  ${String(median(forwarded)).padStart(13)}  ${(median(forwarded) / median(direct)).toFixed(2).padStart(14)}`);
    }
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
    server.close();
    // Leaf certificates: a new host name each time against the same names again.
    const issuer = await LeafIssuer.load(caFiles(path.join(dir, 'leaf')));
    const first: number[] = [];
    const cached: number[] = [];
    for (let i = 0; i < 20; i++) {
      let t = process.hrtime.bigint();
      await issuer.context(`host${i}.example`);
      first.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      await issuer.context(`host${i}.example`);
      cached.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    rows.push(`leaf certificate: first connection to a new host ${median(first).toFixed(2)} ms (median of 20), from the cache ${median(cached).toFixed(3)} ms`);
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
