import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { tempDb, until } from './helpers/tmp.js';

// An upstream that fails in the middle: the client sees through the proxy what it sees talking to the
// upstream directly, and the exchange says which side closed first.

const tmp = tempDb();
let upstream: http.Server;
let upstreamUrl: string;
let proxy: RunningProxy;
let wss: WebSocketServer;
let leftBehind: Promise<boolean> | null = null;

const EVENT = `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { data: 'first' } })}\n\n`;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    if (req.url === '/sse-dies') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'dies' });
      // The event, then the process behind it crashes: the connection drops without the end of the body.
      return void res.write(EVENT, () => res.socket!.destroy());
    }
    if (req.url === '/sse-reset') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'reset' });
      return void res.write(EVENT, () => (res.socket as Socket).resetAndDestroy());
    }
    if (req.url === '/late') {
      // Answers only once the client has gone.
      let resolve!: (v: boolean) => void;
      leftBehind = new Promise((r) => (resolve = r));
      res.on('close', () => resolve(res.write('{"jsonrpc":"2.0","id":1,"result":{}}')));
      return void req.resume();
    }
    res.writeHead(404).end();
  });
  wss = new WebSocketServer({ server: upstream });
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    ws.on('message', () => {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
      const sock = (ws as unknown as { _socket: Socket })._socket;
      // Dropped without a close frame, or reset.
      setImmediate(() => (req.url === '/ws-reset' ? sock.resetAndDestroy() : sock.destroy()));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  proxy = await startProxy({ target: upstreamUrl, port: 0, db: tmp.db, onWarning: () => {} });
});

afterAll(async () => {
  await proxy?.close();
  for (const c of wss.clients) c.terminate();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  tmp.cleanup();
});

/** What a client reading a stream sees: the bytes, and whether it ended cleanly or was cut off. */
function readStream(base: string, path: string): Promise<{ body: string; ending: string }> {
  return new Promise((resolve) => {
    let body = '';
    const req = http.get(base + path, { headers: { accept: 'text/event-stream' } }, (res) => {
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ body, ending: 'end' }));
      res.on('error', () => resolve({ body, ending: 'cut off' }));
      res.on('aborted', () => resolve({ body, ending: 'cut off' }));
    });
    req.on('error', () => resolve({ body, ending: 'cut off' }));
  });
}

function exchange(url: string) {
  const s = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return s.listSessions().flatMap((x) => s.exchanges(x.id)).find((e) => e.url === url)!;
  } finally {
    s.close();
  }
}

describe('an upstream that fails mid-stream', () => {
  it.each(['/sse-dies', '/sse-reset'])('%s: the client gets the event and a cut-off stream, as directly; the exchange says the server closed', async (path) => {
    const direct = await readStream(upstreamUrl, path);
    const through = await readStream(proxy.url, path);
    expect(through).toEqual(direct);
    expect(direct).toEqual({ body: EVENT, ending: 'cut off' });
    await proxy.flush();
    const ex = exchange(path);
    expect([ex.closedBy, ex.aborted, ex.failure]).toEqual(['server', false, { kind: 'body-cut', body: 'response', by: 'server', code: null }]);
  });

  it.each(['/ws-drop', '/ws-reset'])('%s: a WebSocket whose upstream drops reaches the client as 1006 after the answer, as directly', async (path) => {
    const see = (base: string) => new Promise<{ got: string[]; code: number }>((resolve, reject) => {
      const ws = new WebSocket(base.replace('http', 'ws') + path);
      const got: string[] = [];
      ws.on('open', () => ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })));
      ws.on('message', (d) => got.push(d.toString()));
      ws.on('error', () => {});
      ws.on('close', (code) => resolve({ got, code }));
      ws.on('unexpected-response', reject);
    });
    const direct = await see(upstreamUrl);
    const through = await see(proxy.url);
    expect(through).toEqual(direct);
    expect(direct).toEqual({ got: ['{"jsonrpc":"2.0","id":1,"result":{}}'], code: 1006 });
    await proxy.flush();
    const ex = exchange(path);
    expect([ex.closedBy, ex.aborted]).toEqual(['server', false]);
  });
});

describe('an upstream that answers after the client left', () => {
  it('records the client as the side that closed, and stays up', async () => {
    const ac = new AbortController();
    const call = fetch(proxy.url + '/late', { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"ping"}', headers: { 'content-type': 'application/json' }, signal: ac.signal });
    await until(() => leftBehind != null, 'the upstream to get the request');
    ac.abort();
    await expect(call).rejects.toThrow();
    // The upstream's answer goes nowhere: the proxy closed its side once the client went.
    expect(await leftBehind).toBe(false);
    await proxy.flush();
    await until(() => exchange('/late')?.endedAt != null, 'the exchange to end');
    const ex = exchange('/late');
    expect([ex.closedBy, ex.aborted]).toEqual(['client', true]);
    expect((await readStream(proxy.url, '/sse-dies')).body).toBe(EVENT);
  });
});
