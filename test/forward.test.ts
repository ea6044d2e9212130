import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { LeafIssuer } from '../src/proxy/ca.js';
import { caFiles } from '../src/proxy/ca-files.js';
import { CaptureStore } from '../src/store/read.js';
import { TurnReader } from '../src/store/turns-read.js';
import { writeRecording } from '../src/store/jsonl.js';
import { runChecks } from '../src/analysis/checks/engine.js';
import { loadDiffInput } from '../src/analysis/input.js';
import { echoServer, streamableHandler, WsServerTransport } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';
import { serveClosing, tlsThroughProxy } from './helpers/tunnel.js';
import { clientRequests, readRun, replayHandler } from './helpers/claude-fixtures.js';

// Forward mode over real sockets: local HTTPS servers stand in for the real hosts (their certificates from a
// throwaway CA of the test's, given to mcptap with --upstream-ca), and the clients go through the proxy as Claude
// Code does (HTTPS_PROXY read by undici's EnvHttpProxyAgent, mcptap's CA through NODE_EXTRA_CA_CERTS, in a child
// process since Node reads that variable at start; and curl). Nothing of mcptap is mocked.

const run = promisify(execFile);
const tmp = tempDb('forward.db');
const CLIENT = path.resolve('test/helpers/forward-client.mjs');
const CLI = path.resolve('dist/src/cli/main.js');
const mcptapCa = caFiles(path.join(tmp.dir, 'mcptap-ca'));
const realCa = caFiles(path.join(tmp.dir, 'real-ca'));
const rogueCa = caFiles(path.join(tmp.dir, 'rogue-ca'));

const closers: Array<() => Promise<void>> = [];
let proxy: RunningProxy;
let mcpUrl: string;
let fixtureBase: string;
let tunnelledUrl: string;
let rogueUrl: string;
let echoPort: number;
let plainPort: number;
let wsPort: number;

const serve = (server: net.Server): Promise<number> => serveClosing(closers, server);

async function httpsServer(issuer: LeafIssuer, name: string, handler: Parameters<typeof https.createServer>[1]): Promise<number> {
  const { key, cert } = await issuer.leaf(name);
  return serve(https.createServer({ key, cert }, handler));
}

function viaProxy(args: string[], opts: { trust?: boolean } = {}): Promise<any> {
  const env: NodeJS.ProcessEnv = { ...process.env, HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '', no_proxy: '' };
  delete env.NODE_EXTRA_CA_CERTS;
  if (opts.trust !== false) env.NODE_EXTRA_CA_CERTS = mcptapCa.certPath;
  return run(process.execPath, [CLIENT, ...args], { env, timeout: 60_000 }).then((r) => JSON.parse(r.stdout.trim().split('\n').pop()!));
}

function openStore(): CaptureStore {
  return CaptureStore.open(tmp.db, { readonly: true });
}

/** Sends raw bytes to the proxy and collects what comes back until it closes (or `until` is seen). */
function raw(bytes: string | Buffer, until?: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(proxy.port, '127.0.0.1');
    let got = '';
    s.on('data', (c) => {
      got += c.toString('latin1');
      if (until?.test(got)) s.destroy();
    });
    s.on('close', () => resolve(got));
    s.on('error', () => {});
    s.write(bytes);
  });
}

beforeAll(async () => {
  const real = await LeafIssuer.load(realCa);
  const rogue = await LeafIssuer.load(rogueCa);
  const mcp = streamableHandler();
  closers.push(() => mcp.closeAll().then(() => {}));
  mcpUrl = `https://localhost:${await httpsServer(real, 'localhost', mcp.handle)}/mcp`;
  fixtureBase = `https://localhost:${await httpsServer(real, 'localhost', replayHandler(readRun('echo-http', 'model'), readRun('echo-http', 'mcp')))}`;
  tunnelledUrl = `https://127.0.0.1:${await httpsServer(real, '127.0.0.1', (_req, res) => res.end('the real host, unread'))}/`;
  rogueUrl = `https://localhost:${await httpsServer(rogue, 'localhost', (_req, res) => res.end('should never be seen'))}/`;
  echoPort = await serve(net.createServer((s) => s.pipe(s)));
  plainPort = await serve((await import('node:http')).createServer((_req, res) => res.end('plain inside a tunnel')));
  // An MCP server over WebSocket behind TLS (wss://).
  const wsHttps = https.createServer({ ...(await real.leaf('localhost')) });
  const wss = new WebSocketServer({ server: wsHttps, handleProtocols: (p) => (p.has('mcp') ? 'mcp' : false) });
  wss.on('connection', (ws) => void echoServer().server.connect(new WsServerTransport(ws)));
  closers.push(async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
  });
  wsPort = await serve(wsHttps);
  proxy = await startProxy({
    forward: { policy: { all: false, hosts: ['localhost'], passthrough: [] }, upstreamCa: [realCa.certPath], caDir: mcptapCa.dir },
    port: 0, db: tmp.db, onWarning: () => {},
  });
});

afterAll(async () => {
  await proxy?.close();
  for (const c of closers.reverse()) await c();
  tmp.cleanup();
});

describe('proxy --forward', () => {
  it('an MCP SDK client behind HTTPS_PROXY reaches the https server unchanged, and the session is captured decrypted', async () => {
    const got = await viaProxy(['mcp', mcpUrl]);
    expect(got.failed).toBeUndefined();
    expect(got.text).toBe('Echo: through the tunnel');
    expect(got.tools).toContain('echo');
    await proxy.flush();
    const store = openStore();
    try {
      const s = store.listSessions().find((x) => x.transport === 'streamable-http' && x.clientInfo?.name === 'forward-test-client');
      expect(s).toBeDefined();
      expect(s!.target).toBe(new URL(mcpUrl).origin);
      const methods = store.messages(s!.id).map((m) => m.method).filter(Boolean);
      expect(methods).toEqual(expect.arrayContaining(['initialize', 'tools/list', 'tools/call']));
      expect(runChecks(loadDiffInput(s!.id, store)).filter((f) => f.severity === 'error')).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('a forwarded recording replays against its real host: the recorded one by default, or a --target', async () => {
    await proxy.flush();
    const store = openStore();
    let session;
    try {
      session = store.listSessions().find((x) => x.transport === 'streamable-http' && x.clientInfo?.name === 'forward-test-client')!;
      writeRecording(store, session.id, path.join(tmp.dir, 'forwarded.jsonl'));
    } finally {
      store.close();
    }
    // The real host's certificate is from the test's CA: trusted as Node trusts any, through NODE_EXTRA_CA_CERTS.
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: realCa.certPath };
    for (const [i, target] of [[], ['--target', new URL(mcpUrl).origin]].entries()) {
      const db = path.join(tmp.dir, `replay-${i}.db`);
      const r = await run(process.execPath, [CLI, 'replay', path.join(tmp.dir, 'forwarded.jsonl'), ...target, '--db', db, '--json'], { env, timeout: 60_000 }).catch((e) => e);
      expect(r.stderr ?? '', target.join(' ')).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out.diff.equivalent, target.join(' ')).toBe(true);
      expect(out.missing).toEqual([]);
      const replayed = CaptureStore.open(db, { readonly: true });
      try {
        const s = replayed.getSession(out.replay)!;
        expect(s.target).toBe(session.target);
        expect(replayed.messages(s.id).map((m) => m.method).filter(Boolean)).toEqual(expect.arrayContaining(['initialize', 'tools/list', 'tools/call']));
      } finally {
        replayed.close();
      }
    }
      // A recording made against no server URL (a stdio command) has nothing to go back to: --target is asked for.
    const lines = fs.readFileSync(path.resolve('test/fixtures/recording-v4.jsonl'), 'utf8').split('\n');
    const head = JSON.parse(lines[0]);
    head.session = { ...head.session, transport: 'stdio', target: 'npx -y some-mcp-server' };
    fs.writeFileSync(path.join(tmp.dir, 'stdio.jsonl'), [JSON.stringify(head), ...lines.slice(1)].join('\n'));
    const bad = await run(process.execPath, [CLI, 'replay', path.join(tmp.dir, 'stdio.jsonl'), '--db', path.join(tmp.dir, 'replay-bad.db')]).then(() => null, (e) => e);
    expect(bad?.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringContaining("give --target: session f320a1d4d901 was recorded against 'npx -y some-mcp-server'")]);
  });

  it("Claude Code's recorded traffic, both halves, through the tunnel: the model turns, the MCP session and the join", async () => {
    const requests = clientRequests('echo-http').map(({ ex }) => ({
      method: ex.method, url: ex.url, body: ex.requestBody,
      headers: Object.fromEntries(Object.entries(ex.requestHeaders).filter(([k]) => !['host', 'content-length', 'connection', 'accept-encoding'].includes(k))),
    }));
    const file = path.join(tmp.dir, 'requests.json');
    fs.writeFileSync(file, JSON.stringify(requests));
    const got: Array<{ status: number }> = await viaProxy(['requests', file, fixtureBase]);
    expect(got.map((g) => g.status)).toEqual(clientRequests('echo-http').map(({ ex }) => ex.status));
    await proxy.flush();
    const store = openStore();
    try {
      const conv = store.listSessions().find((x) => x.transport === 'model-api');
      expect(conv).toBeDefined();
      expect(conv!.target).toBe(fixtureBase);
      const c = new TurnReader(store).conversation(conv!);
      const use = c.turns[0].toolUses[0];
      expect(use).toMatchObject({ name: 'mcp__srv__echo', linkedBy: 'tool-use-id', result: { isError: false, text: 'Echo: hello from fixture' } });
    } finally {
      store.close();
    }
  });

  it('a WebSocket inside an intercepted tunnel works as in reverse mode: its frames are a websocket session of the real host', async () => {
    // The tunnel a proxy-aware WebSocket client makes: CONNECT, then TLS to the real name through it.
    const secure = await tlsThroughProxy(proxy.port, 'localhost', wsPort, fs.readFileSync(mcptapCa.certPath, 'utf8'));
    const ws = new WebSocket(`wss://localhost:${wsPort}/`, 'mcp', { createConnection: () => secure });
    await once(ws, 'open');
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'forward-ws-client', version: '1' } } }));
    const [reply] = await once(ws, 'message');
    expect(JSON.parse(String(reply))).toMatchObject({ id: 1, result: { serverInfo: expect.anything() } });
    ws.close();
    await once(ws, 'close');
    await proxy.flush();
    const store = openStore();
    try {
      const s = store.listSessions().find((x) => x.transport === 'websocket' && x.clientInfo?.name === 'forward-ws-client');
      expect(s?.target).toBe(`https://localhost:${wsPort}`);
      expect(store.messages(s!.id).map((m) => m.method)).toContain('initialize');
    } finally {
      store.close();
    }
  });

  it('a wss:// upgrade to a host whose certificate nobody trusts: a 502 naming upstream-tls, recorded as such', async () => {
    const roguePort = new URL(rogueUrl).port;
    const secure = await tlsThroughProxy(proxy.port, 'localhost', Number(roguePort), fs.readFileSync(mcptapCa.certPath, 'utf8'));
    const ws = new WebSocket(`wss://localhost:${roguePort}/ws`, 'mcp', { createConnection: () => secure });
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    expect(res.statusCode).toBe(502);
    expect(res.headers['x-mcptap-error']).toBe('upstream-tls');
    res.resume();
    secure.destroy();
    await proxy.flush();
    const store = openStore();
    try {
      const all = store.listSessions().flatMap((s) => store.exchanges(s.id));
      const hit = all.find((e) => e.url.startsWith('/ws') && e.upstreamUrl.includes(`localhost:${roguePort}`));
      expect(hit?.failure).toMatchObject({ kind: 'upstream-tls', host: 'localhost', code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    } finally {
      store.close();
    }
  });

  it('a host it does not intercept is tunnelled blind: the client gets the real host, mcptap records the tunnel only', async () => {
    const { stdout } = await run('curl', ['-sS', '--proxy', proxy.url, '--cacert', realCa.certPath, tunnelledUrl], { timeout: 60_000 });
    expect(stdout).toBe('the real host, unread');
    await proxy.flush();
    const store = openStore();
    try {
      const port = new URL(tunnelledUrl).port;
      const all = store.listSessions().flatMap((s) => store.exchanges(s.id));
      const t = all.find((e) => e.method === 'CONNECT' && e.url === `127.0.0.1:${port}`);
      expect(t).toMatchObject({ status: 200, requestBody: null, responseBody: null, failure: null });
      expect(t!.requestBytes).toBeGreaterThan(0);
      expect(t!.responseBytes).toBeGreaterThan(0);
      expect(all.some((e) => e.upstreamUrl.startsWith(`https://127.0.0.1:${port}`))).toBe(false);
    } finally {
      store.close();
    }
  });

  it("an upstream certificate nobody trusts: the client gets a 502 that names it, and check explains it with the fix", async () => {
    const got = await viaProxy(['get', rogueUrl]);
    expect(got).toMatchObject({ status: 502, error: 'upstream-tls' });
    expect(got.body).toContain('was refused');
    await proxy.flush();
    const store = openStore();
    try {
      const all = store.listSessions().flatMap((s) => store.exchanges(s.id).map((e) => ({ s, e })));
      const hit = all.find(({ e }) => e.failure?.kind === 'upstream-tls');
      expect(hit?.e.failure).toMatchObject({ kind: 'upstream-tls', host: 'localhost', code: 'SELF_SIGNED_CERT_IN_CHAIN' });
      expect((hit!.e.failure as { issuer: string }).issuer).toContain('mcptap local CA');
      const findings = runChecks(loadDiffInput(hit!.s.id, store));
      expect(findings[0]).toMatchObject({ ruleId: 'upstream-tls', severity: 'error' });
      expect(findings[0].fix).toContain('--upstream-ca');
    } finally {
      store.close();
    }
  });

  it("a client that does not trust mcptap's CA: its handshake fails, recorded as the client refusing mcptap's certificate", async () => {
    const got = await viaProxy(['mcp', mcpUrl], { trust: false });
    expect(got.failed).toMatch(/CERT|certificate/i);
    // The client's alert reaches the proxy after the client has already given up.
    const refusal = () => {
      const store = openStore();
      try {
        return store.listSessions().flatMap((s) => store.exchanges(s.id).map((e) => ({ s, e }))).find(({ e }) => e.failure?.kind === 'client-tls-refused');
      } finally {
        store.close();
      }
    };
    await until(async () => {
      await proxy.flush();
      return !!refusal();
    }, 'the refused handshake recorded');
    const store = openStore();
    try {
      const hit = refusal();
      expect(hit!.e.failure).toMatchObject({ detail: expect.stringContaining('does not trust') });
      const findings = runChecks(loadDiffInput(hit!.s.id, store));
      expect(findings.map((f) => f.ruleId)).toContain('client-tls-refused');
      expect(findings.find((f) => f.ruleId === 'client-tls-refused')!.fix).toContain('NODE_EXTRA_CA_CERTS');
    } finally {
      store.close();
    }
  });

  it('bad input: a closed port, an overlong host name, plain HTTP in a tunnel, bytes that are neither TLS nor HTTP', async () => {
    const closed = await raw('CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n');
    expect(closed).toMatch(/^HTTP\/1\.1 502 /);
    expect(closed).toContain('x-mcptap-error: upstream-unreachable');
    const long = `${'a'.repeat(63)}.`.repeat(4) + 'example';
    const overlong = await raw(`CONNECT ${long}:443 HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(overlong).toMatch(/^HTTP\/1\.1 400 /);
    expect(overlong).toContain('at most 253');
    const plain = await raw(`CONNECT localhost:${plainPort} HTTP/1.1\r\nHost: localhost\r\n\r\nGET / HTTP/1.1\r\nHost: localhost:${plainPort}\r\nConnection: close\r\n\r\n`, /plain inside a tunnel/);
    expect(plain).toContain('plain inside a tunnel');
    const odd = await raw(Buffer.concat([Buffer.from(`CONNECT localhost:${echoPort} HTTP/1.1\r\nHost: localhost\r\n\r\n`), Buffer.from([0x00, 0x01, 0x02, 0xff])]), /\x00\x01\x02\xff/);
    expect(odd).toContain('\x00\x01\x02\xff');
    // Still serving afterwards.
    expect((await viaProxy(['mcp', mcpUrl])).text).toBe('Echo: through the tunnel');
  });

  it("the CA key is the owner's alone and in no capture or export", async () => {
    expect(fs.statSync(mcptapCa.keyPath).mode & 0o777).toBe(0o600);
    await proxy.flush();
    const keyBody = fs.readFileSync(mcptapCa.keyPath, 'utf8').replace(/-----[^-]+-----|\s/g, '');
    const exported = path.join(tmp.dir, 'export');
    fs.mkdirSync(exported);
    const store = openStore();
    try {
      for (const s of store.listSessions()) writeRecording(store, s.id, path.join(exported, `${s.id}.jsonl`));
    } finally {
      store.close();
    }
    const files = [tmp.db, `${tmp.db}-wal`, ...fs.readdirSync(exported).map((f) => path.join(exported, f))];
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      if (!fs.existsSync(f)) continue;
      const bytes = fs.readFileSync(f).toString('latin1');
      expect(bytes.includes(keyBody.slice(0, 40)), f).toBe(false);
    }
  });
});

describe('mcptap ca and mcptap claude env --forward', () => {
  const env = () => ({ ...process.env, MCPTAP_CA_DIR: path.join(tmp.dir, 'cli-ca') });

  it('ca --json gives the file and the fingerprint; claude env --forward the four variables; both made the same CA', async () => {
    const ca = JSON.parse((await run(process.execPath, [CLI, 'ca', '--json'], { env: env() })).stdout);
    expect(ca.certPath).toBe(path.join(tmp.dir, 'cli-ca', 'ca.pem'));
    expect(ca.sha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const vars = JSON.parse((await run(process.execPath, [CLI, 'claude', 'env', '--forward', '--port', '9911', '--json'], { env: env() })).stdout);
    expect(vars).toEqual({ HTTPS_PROXY: 'http://127.0.0.1:9911', HTTP_PROXY: 'http://127.0.0.1:9911', NO_PROXY: 'localhost,127.0.0.1,::1', NODE_EXTRA_CA_CERTS: ca.certPath });
    const again = JSON.parse((await run(process.execPath, [CLI, 'ca', '--json'], { env: env() })).stdout);
    expect(again.sha256).toBe(ca.sha256);
    const reset = JSON.parse((await run(process.execPath, [CLI, 'ca', '--reset', '--json'], { env: env() })).stdout);
    expect(reset.sha256).not.toBe(ca.sha256);
  });

  it('bad input is one line and exit 2', async () => {
    for (const args of [['proxy', '--forward', '--target', 'http://localhost:1'], ['proxy', '--intercept', 'x.example'], ['claude', 'env'], ['proxy', '--forward', '--intercept', 'no spaces allowed']]) {
      const r = await run(process.execPath, [CLI, ...args, '--port', '0'], { env: env() }).then(() => null, (e) => e);
      expect(r?.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
