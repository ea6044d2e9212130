import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { tempDb } from './helpers/tmp.js';

// The WebSocket bridge with a raw `ws` upstream: close codes, pings, binary frames, a refused upgrade
// and an unreachable upstream, as a client sees them through the proxy.

const tmp = tempDb();
let server: http.Server;
let wss: WebSocketServer;
let proxy: RunningProxy;
let wsBase: string;
let slowRefused: (s: Duplex) => void;
const slowRefusal = new Promise<Duplex>((r) => (slowRefused = r));

beforeAll(async () => {
  server = http.createServer();
  wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('mcp') ? 'mcp' : false) });
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/slow-refusal') {
      // A refusal whose body never ends: the client must get what has come so far, and its leaving must close this.
      socket.write('HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n');
      socket.resume();
      slowRefused(socket);
      return;
    }
    if (req.url === '/private') {
      socket.end('HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm="mcp"\r\ncontent-type: application/json\r\ncontent-length: 24\r\n\r\n{"error":"unauthorized"}');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => {
        const text = data.toString();
        if (isBinary) return void ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
        if (text.includes('"bye"')) return void ws.close(4001, 'bye now');
        const msg = JSON.parse(text);
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { got: msg.method, auth: req.headers.authorization ?? null } }));
      });
      ws.on('ping', (d) => ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'debug', data: `ping ${d}` } })));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy = await startProxy({ target: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, port: 0, db: tmp.db, onWarning: () => {} });
  wsBase = proxy.url.replace('http', 'ws');
});

afterAll(async () => {
  void slowRefusal.then((s) => s.destroy());
  await proxy.close();
  for (const c of wss.clients) c.terminate();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  tmp.cleanup();
});

function open(path: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsBase + path, 'mcp', { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const next = (ws: WebSocket) => new Promise<{ data: Buffer; isBinary: boolean }>((r) => ws.once('message', (data, isBinary) => r({ data: data as Buffer, isBinary })));

describe('WebSocket bridge', () => {
  it('negotiates the mcp subprotocol, forwards frames, headers, pings and the close code', async () => {
    const ws = await open('/ws', { authorization: 'Bearer abcdefghijklmnop1234' });
    expect(ws.protocol).toBe('mcp');
    let reply = next(ws);
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(JSON.parse((await reply).data.toString()).result).toEqual({ got: 'tools/list', auth: 'Bearer abcdefghijklmnop1234' });
    reply = next(ws);
    ws.ping('hello');
    expect((await reply).data.toString()).toContain('ping hello');
    reply = next(ws);
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    const bin = await reply;
    expect(bin.isBinary).toBe(true);
    expect([...bin.data]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    const closed = new Promise<[number, string]>((r) => ws.once('close', (code, reason) => r([code, reason.toString()])));
    ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'bye' }));
    expect(await closed).toEqual([4001, 'bye now']);

    await proxy.flush();
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const s = store.listSessions().find((x) => x.transport === 'websocket' && x.endReason === 'ws-closed')!;
      const msgs = store.messages(s.id);
      expect(msgs.map((m) => [m.direction, m.kind, m.method])).toEqual([
        ['client->server', 'request', 'tools/list'],
        ['server->client', 'response', 'tools/list'],
        ['server->client', 'notification', 'notifications/message'],
        ['client->server', 'non-json', null],
        ['server->client', 'non-json', null],
        ['client->server', 'notification', 'bye'],
      ]);
      expect(msgs.every((m) => m.channel === 'ws-frame')).toBe(true);
      const [ex] = store.exchanges(s.id);
      expect(ex).toMatchObject({ kind: 'websocket', status: 101, url: '/ws' });
      expect(ex.requestHeaders.find(([k]) => k === 'authorization')![1]).toMatch(/^Bearer \[redacted:[0-9a-f]{8}…1234\]$/);
    } finally {
      store.close();
    }
  });

  it('passes a refused upgrade back to the client with its status and headers', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const ws = new WebSocket(wsBase + '/private', 'mcp');
      ws.once('unexpected-response', (_req, r) => resolve(r));
      ws.once('error', reject);
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="mcp"');
  });

  it('relays a refusal as it arrives, and closes the upstream when the client leaves', async () => {
    const req = http.get(proxy.url + '/slow-refusal', { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    req.on('error', () => {});
    const res = await new Promise<http.IncomingMessage>((r) => req.once('response', r));
    expect(res.statusCode).toBe(503);
    const first = await new Promise<Buffer>((r) => res.once('data', r));
    expect(first.toString()).toBe('first');
    const upstream = await slowRefusal;
    // The proxy closing its side reaches the upstream as the end of what it reads (the server keeps it half-open).
    const closed = new Promise<void>((r) => (upstream.readableEnded ? r() : upstream.once('end', () => r())));
    req.destroy();
    await closed;
    await proxy.flush();
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const ex = store.listSessions().flatMap((s) => store.exchanges(s.id)).find((e) => e.url === '/slow-refusal')!;
      expect(ex).toMatchObject({ status: 503, responseBody: 'first', responseBytes: 5, failure: { kind: 'upgrade-refused', status: 503 } });
    } finally {
      store.close();
    }
  });

  it('answers 502 when the upstream cannot be reached', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const p2 = await startProxy({ target: `http://127.0.0.1:${port}`, port: 0, db: tmp.db, onWarning: () => {} });
    try {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const ws = new WebSocket(p2.url.replace('http', 'ws') + '/', 'mcp');
        ws.once('unexpected-response', (_req, r) => resolve(r));
        ws.once('error', reject);
      });
      expect(res.statusCode).toBe(502);
    } finally {
      await p2.close();
    }
  });
});

describe('WebSocket relay with permessage-deflate', () => {
  it('passes the negotiated compression through and stores every message decompressed, context takeover included', async () => {
    const up = http.createServer();
    // Compress everything (threshold 0); by default ws keeps the compression context between messages.
    const wss2 = new WebSocketServer({ server: up, perMessageDeflate: { threshold: 0 } });
    wss2.on('connection', (ws) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString());
        const reply = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: `echo ${msg.params.arguments.message}` }] } });
        // The reply in two fragments, both compressed as one message.
        ws.send(reply.slice(0, 10), { fin: false });
        ws.send(reply.slice(10), { fin: true });
      });
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const db = tmp.db.replace(/\.db$/, '-deflate.db');
    const p2 = await startProxy({ target: `http://127.0.0.1:${(up.address() as AddressInfo).port}`, port: 0, db, onWarning: () => {} });
    try {
      const ws = new WebSocket(p2.url.replace('http', 'ws') + '/', { perMessageDeflate: { threshold: 0 } });
      await new Promise((r, j) => ws.once('open', r).once('error', j));
      expect(ws.extensions).toContain('permessage-deflate');
      const sent: string[] = [];
      const got: string[] = [];
      for (let i = 0; i < 5; i++) {
        const body = JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: `the same words again, ${i}: ${'héllo '.repeat(50)}` } } });
        sent.push(body);
        const reply = next(ws);
        ws.send(body);
        got.push((await reply).data.toString());
      }
      const closed = new Promise((r) => ws.once('close', r));
      ws.close(1000);
      await closed;
      await p2.flush();
      const store = CaptureStore.open(db, { readonly: true });
      try {
        const s = store.listSessions().find((x) => x.transport === 'websocket')!;
        const msgs = store.messages(s.id);
        expect(msgs.filter((m) => m.direction === 'client->server').map((m) => m.payload)).toEqual(sent);
        expect(msgs.filter((m) => m.direction === 'server->client').map((m) => m.payload)).toEqual(got);
        expect(msgs.every((m) => m.kind === 'request' || (m.kind === 'response' && m.correlatedSeq != null))).toBe(true);
        const [ex] = store.exchanges(s.id);
        expect(ex.failure).toBeNull();
        expect(ex.aborted).toBe(false);
        expect(ex.responseHeaders!.find(([k]) => k.toLowerCase() === 'sec-websocket-extensions')![1]).toContain('permessage-deflate');
      } finally {
        store.close();
      }
    } finally {
      await p2.close();
      for (const c of wss2.clients) c.terminate();
      await new Promise((r) => up.close(r));
    }
  });
});
