import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, ProxyAgent, request } from 'undici';
import { LeafIssuer } from '../../src/proxy/ca.js';
import { caFiles } from '../../src/proxy/ca-files.js';

// Forward mode: the same HTTPS requests, keep-alive on every leg, three ways: straight to the HTTPS server; through
// `mcptap proxy --forward` as a blind tunnel (same proxy process, same CONNECT, nothing decrypted); and through it
// intercepted (TLS ended and made again, full capture). Intercepted against tunnelled is like for like: same
// processes and hops, the difference is the interception and capture. The TLS connections each server accepts
// are counted, to show that tunnels and upstream connections are made once per client connection and reused. Then what a leaf certificate costs:
// the first connection to a new host against one served from the cache.
// MCPTAP_BENCH_PROF=DIR writes the proxy's CPU profile (node --cpu-prof) there.

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const BODY = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}';

async function rate(dispatcher: Agent | ProxyAgent, url: string, clients: number, ms: number): Promise<number> {
  let n = 0;
  const end = Date.now() + ms;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (Date.now() < end) {
      const r = await request(url, { method: 'POST', body: BODY, headers: { 'content-type': 'application/json' }, dispatcher });
      await r.body.text();
      n++;
    }
  }));
  return Math.round(n / (ms / 1000));
}

const ask = <T>(child: ChildProcess, m: string) => new Promise<T>((resolve) => {
  child.once('message', (r) => resolve(r as T));
  child.send(m);
});

async function httpsServer(issuer: LeafIssuer, name: string): Promise<{ server: https.Server; url: string; tls: () => number }> {
  const { key, cert } = await issuer.leaf(name);
  let handshakes = 0;
  const server = https.createServer({ key, cert }, (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}]}}'));
  });
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `https://${name}:${(server.address() as { port: number }).port}/mcp`, tls: () => handshakes };
}

export async function benchForward(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-forward-'));
  try {
    const real = await LeafIssuer.load(caFiles(path.join(dir, 'real')));
    // The child intercepts `localhost` and tunnels `127.0.0.1` blind: one server for each name, the same handler.
    const seen = await httpsServer(real, 'localhost');
    const blind = await httpsServer(real, '127.0.0.1');
    const proxyCa = caFiles(path.join(dir, 'mcptap'));
    const prof = process.env.MCPTAP_BENCH_PROF;
    const child = fork(fileURLToPath(new URL('./forward-proxy-child.js', import.meta.url)), [path.join(dir, 'f.db'), proxyCa.dir, real.caPath], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : undefined,
    });
    const { port } = await new Promise<{ port: string }>((resolve) => child.once('message', (m) => resolve(m as { port: string })));
    const realCa = fs.readFileSync(real.caPath, 'utf8');
    const proxyAgent = (clients: number) => new ProxyAgent({ uri: `http://127.0.0.1:${port}`, requestTls: { ca: [realCa, fs.readFileSync(proxyCa.certPath, 'utf8')] }, connections: clients });
    const rows: string[] = [
      '',
      'forward mode: HTTPS requests, keep-alive on every leg, straight to the server / through proxy --forward tunnelled blind /',
      'through it intercepted (TLS ended and made again, full capture); 3 interleaved rounds of 1.5 s, medians:',
      'clients  direct req/s  tunnel req/s  intercepted req/s  intercepted/tunnel  intercepted/direct  proxy CPU/req tunnel→intercepted  tunnels  upstream TLS',
    ];
    for (const clients of [1, 20]) {
      const direct: number[] = [];
      const tunnel: number[] = [];
      const seenRate: number[] = [];
      const cpu: { tunnel: number[]; seen: number[] } = { tunnel: [], seen: [] };
      const tlsBefore = seen.tls();
      const blindBefore = blind.tls();
      for (let round = 0; round < 3; round++) {
        const a = new Agent({ connect: { ca: realCa }, connections: clients });
        direct.push(await rate(a, seen.url, clients, 1500));
        await a.close();
        for (const [url, out, cpuOut] of [[blind.url, tunnel, cpu.tunnel], [seen.url, seenRate, cpu.seen]] as const) {
          const p = proxyAgent(clients);
          await ask(child, 'cpu-start');
          const r = await rate(p, url, clients, 1500);
          const { cpuMicros } = await ask<{ cpuMicros: number }>(child, 'cpu-read');
          out.push(r);
          cpuOut.push(cpuMicros / (r * 1.5));
          await p.close();
        }
      }
      const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);
      rows.push([
        String(clients).padStart(7), String(median(direct)).padStart(12), String(median(tunnel)).padStart(12), String(median(seenRate)).padStart(17),
        ratio(seenRate, tunnel).padStart(18), ratio(seenRate, direct).padStart(18),
        `${median(cpu.tunnel).toFixed(0)}→${median(cpu.seen).toFixed(0)} µs`.padStart(33),
        String(blind.tls() - blindBefore).padStart(8), String(seen.tls() - tlsBefore - 3 * clients).padStart(13),
      ].join('  '));
    }
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
    seen.server.close();
    blind.server.close();
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
    rows.push('(tunnels: TLS connections the clients made through blind tunnels over the 3 rounds, one per CONNECT (the intercepted');
    rows.push(' ones are opened the same way); upstream TLS: connections the intercepting proxy made to the server over the 3 rounds)');
    rows.push(`leaf certificate: first connection to a new host ${median(first).toFixed(2)} ms (median of 20), from the cache ${median(cached).toFixed(3)} ms`);
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
