import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { WebSocket as WsSocket, WebSocketServer } from 'ws';
import { heldOne, holdingProxy, readStored, resultText as text } from './helpers/hold.js';
import { connectClient, startWsServer, type Peer } from './helpers/peers.js';
import { rewriteText } from '../src/model/facts.js';
import { tempDb } from './helpers/tmp.js';

// --hold on WebSocket connections the last stop could not hold: permessage-deflate (context takeover,
// every message compressed by both ends) and fragmented messages, one message at a time; and answering
// a held request by hand, sent to the client as the server's next frame. Real SDK peers over `ws` with
// compression on; for fragments, `ws` peers that send every message in pieces with a ping among them.

const tmp = tempDb();
const open: Array<{ close(): Promise<void> }> = [];
const g = globalThis as { WebSocket?: unknown };
const saved = g.WebSocket;
afterAll(async () => {
  for (const o of open.reverse()) await o.close();
  g.WebSocket = saved;
  tmp.cleanup();
});

/** The SDK's client transport makes its socket with `new WebSocket(url, ['mcp'])`: this one compresses every message. */
class DeflatingWs extends WsSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols, { perMessageDeflate: { threshold: 0 } });
  }
}




describe('proxy --hold over a compressed WebSocket (permessage-deflate, context takeover)', () => {
  it('holds compressed client frames; answers by hand (result and error), drops, edits; later messages stay readable', async () => {
    g.WebSocket = DeflatingWs;
    const server = await startWsServer({ deflate: true });
    open.push(server);
    const { proxy, gate, ws } = await holdingProxy(server.url, 'tool:echo', tmp.db, 'hold-ws-deflate', open);
    const c = await connectClient('websocket', ws, { name: 'hold-ws-deflate' });
    try {
      const answered = c.client.callTool({ name: 'echo', arguments: { message: 'one' } });
      let h = await heldOne(gate);
      expect(h).toMatchObject({ method: 'tools/call', subject: 'echo', noAnswer: null, direction: 'client->server' });
      gate.answer(h.id, JSON.stringify({ result: { content: [{ type: 'text', text: 'answered over the socket' }] } }));
      expect(text(await answered)).toBe('answered over the socket');
      const refused = c.client.callTool({ name: 'echo', arguments: { message: 'two' } });
      gate.answer((await heldOne(gate)).id, JSON.stringify({ error: { code: -32000, message: 'refused by hand' } }));
      await expect(refused).rejects.toThrow(/refused by hand/);
      // Dropped: the server's inflate window never gets this message; what follows must still inflate there.
      const dropped = c.client.callTool({ name: 'echo', arguments: { message: 'three' } }, undefined, { timeout: 1000 });
      gate.drop((await heldOne(gate)).id);
      await expect(dropped).rejects.toThrow(/timed out/i);
      const edited = c.client.callTool({ name: 'echo', arguments: { message: 'four' } });
      h = await heldOne(gate);
      const body = JSON.parse(h.body);
      body.params.arguments.message = 'edited';
      gate.forward(h.id, JSON.stringify(body));
      expect(text(await edited)).toBe('Echo: edited');
      expect(text(await c.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } }))).toMatch(/5/);
      const asIs = c.client.callTool({ name: 'echo', arguments: { message: 'five' } });
      gate.forward((await heldOne(gate)).id);
      expect(text(await asIs)).toBe('Echo: five');
    } finally {
      await c.close();
    }
    await proxy.flush();
    const { extensions, answers, kinds } = readStored(tmp.db, (s) => {
      const session = s.listSessions().find((x) => x.clientInfo?.name === 'hold-ws-deflate')!;
      const exchanges = s.exchanges(session.id);
      return {
        extensions: exchanges[0].responseHeaders?.find(([k]) => k.toLowerCase() === 'sec-websocket-extensions')?.[1],
        answers: s.messages(session.id).filter((m) => m.direction === 'server->client' && m.method === 'tools/call').map((m) => m.kind),
        kinds: exchanges.flatMap((e) => e.rewrites).map((r) => r.kind),
      };
    });
    expect(extensions).toMatch(/permessage-deflate/);
    // The two answers given by hand are the client's answers too; the dropped call has none.
    expect(answers).toEqual(['response', 'error', 'response', 'response', 'response']);
    expect(kinds).toEqual(['intercept-answer', 'intercept-answer', 'intercept-edit']);
  });

  it('with dir:s2c holds compressed server frames; an edited answer, then the next ones as they came', async () => {
    g.WebSocket = DeflatingWs;
    const server = await startWsServer({ deflate: true });
    open.push(server);
    const { gate, ws, proxy } = await holdingProxy(server.url, 'dir:s2c tool:echo', tmp.db, 'hold-ws-deflate-s2c', open);
    const c = await connectClient('websocket', ws, { name: 'hold-ws-deflate-s2c' });
    try {
      const first = c.client.callTool({ name: 'echo', arguments: { message: 'back' } });
      const h = await heldOne(gate);
      expect(h).toMatchObject({ direction: 'server->client', method: 'tools/call', subject: 'echo' });
      const body = JSON.parse(h.body);
      body.result.content[0].text = 'Echo: changed on its way back';
      gate.forward(h.id, JSON.stringify(body));
      expect(text(await first)).toBe('Echo: changed on its way back');
      // The server compressed its next answers against the original; the client never saw it.
      const second = c.client.callTool({ name: 'echo', arguments: { message: 'back' } });
      gate.forward((await heldOne(gate)).id);
      expect(text(await second)).toBe('Echo: back');
      expect((await c.client.listTools()).tools.length).toBeGreaterThan(3);
    } finally {
      await c.close();
    }
    await proxy.flush();
    // The server's frame edited: recorded as the server's, and labelled so (not "request body edited").
    const rewrites = readStored(tmp.db, (s) => {
      const session = s.listSessions().find((x) => x.clientInfo?.name === 'hold-ws-deflate-s2c')!;
      return s.exchanges(session.id).flatMap((e) => e.rewrites);
    });
    expect(rewrites.map((r) => r.kind)).toEqual(['intercept-server-edit']);
    expect(rewriteText(rewrites[0])).toMatch(/^server message edited at the intercept: /);
  });
});

/** A `ws` peer that sends every message in three fragments, the first compressed when agreed, a ping among them. */
function sendInPieces(ws: WsSocket, message: unknown): void {
  const s = JSON.stringify(message);
  const cut = [0, Math.floor(s.length / 3), Math.floor((2 * s.length) / 3), s.length];
  ws.send(s.slice(cut[0], cut[1]), { fin: false });
  ws.ping();
  ws.send(s.slice(cut[1], cut[2]), { fin: false });
  ws.send(s.slice(cut[2], cut[3]), { fin: true });
}

async function startFragmentingServer(): Promise<Peer & { received: unknown[] }> {
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server, perMessageDeflate: { threshold: 0 } });
  const received: unknown[] = [];
  wss.on('connection', (ws) => ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as { id: number; method: string; params: unknown };
    received.push(m);
    sendInPieces(ws, { jsonrpc: '2.0', id: m.id, result: { method: m.method, params: m.params } });
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`, endpoint: `ws://127.0.0.1:${port}/`, port, sessions: () => wss.clients.size, received,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise((r) => server.close(r));
    },
  };
}

async function fragmentingClient(url: string): Promise<{ ws: WsSocket; next(): Promise<any> }> {
  const ws = new WsSocket(url, { perMessageDeflate: { threshold: 0 } });
  const inbox: unknown[] = [];
  const waiters: Array<(m: unknown) => void> = [];
  ws.on('message', (d) => {
    const m = JSON.parse(String(d));
    const w = waiters.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  open.push({ close: async () => void ws.terminate() });
  return { ws, next: () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => waiters.push(r))) };
}

describe('proxy --hold over fragmented WebSocket messages', () => {
  it('holds a message sent in fragments (compressed, a ping among them) as one; what waits behind it keeps its order', async () => {
    const server = await startFragmentingServer();
    open.push(server);
    const { gate, ws } = await holdingProxy(server.url, 'method:tools/call tool:query', tmp.db, 'hold-ws-fragments', open);
    const c = await fragmentingClient(ws);
    // Not matching: passes whole.
    sendInPieces(c.ws, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect((await c.next()).result.method).toBe('tools/list');
    sendInPieces(c.ws, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'query', arguments: { sql: 'select 1' } } });
    const h = await heldOne(gate);
    expect(JSON.parse(h.body).params.arguments).toEqual({ sql: 'select 1' });
    // Sent after the held one: the server gets it only after.
    sendInPieces(c.ws, { jsonrpc: '2.0', id: 3, method: 'tools/list' });
    const body = JSON.parse(h.body);
    body.params.arguments.sql = 'select 2';
    gate.forward(h.id, JSON.stringify(body));
    const [a, b] = [await c.next(), await c.next()];
    expect(a).toMatchObject({ id: 2, result: { params: { arguments: { sql: 'select 2' } } } });
    expect(b).toMatchObject({ id: 3, result: { method: 'tools/list' } });
    expect(server.received.map((m) => (m as { id: number }).id)).toEqual([1, 2, 3]);
  });

  it('with dir:s2c holds a fragmented, compressed answer; edits it; the next answers still inflate at the client', async () => {
    const server = await startFragmentingServer();
    open.push(server);
    const { gate, ws } = await holdingProxy(server.url, 'dir:s2c method:tools/call', tmp.db, 'hold-ws-fragments-s2c', open);
    const c = await fragmentingClient(ws);
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'query', arguments: { sql: 'select 1' } } }));
    const h = await heldOne(gate);
    expect(h).toMatchObject({ direction: 'server->client', method: 'tools/call', subject: 'query' });
    const body = JSON.parse(h.body);
    body.result.params.arguments.sql = 'changed';
    gate.forward(h.id, JSON.stringify(body));
    expect(await c.next()).toMatchObject({ id: 1, result: { params: { arguments: { sql: 'changed' } } } });
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'query', arguments: { sql: 'select 1' } } }));
    gate.forward((await heldOne(gate)).id);
    expect(await c.next()).toMatchObject({ id: 2, result: { params: { arguments: { sql: 'select 1' } } } });
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }));
    expect(await c.next()).toMatchObject({ id: 3, result: { method: 'tools/list' } });
  });
});
