import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { runChecks } from '../src/analysis/checks/engine.js';
import { startRawHttpServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// On legacy HTTP+SSE a POST /message carries a message and its answer comes back on the GET /sse
// stream: two connections, so the answer can reach the proxy before the POST's own 202 does (the SDK's
// server writes the answer, then the 202). A loaded machine sees it about once in three sessions.
// This server makes it happen every time: it holds the 202 until the test lets it go.

const tmp = tempDb();
const peers: Peer[] = [];
afterAll(async () => {
  for (const p of peers) await p.close();
  tmp.cleanup();
});

interface LegacyServer {
  url: string;
  /** Sends one event on the open stream. */
  send(message: object): void;
  /** The body of the next POST, once the server has it; its 202 waits for `release`. */
  nextPost(): Promise<any>;
  release(): void;
  /** Resolves when the client's stream has closed at the server. */
  streamClosed: Promise<void>;
}

async function legacyServer(): Promise<LegacyServer> {
  let stream: http.ServerResponse | null = null;
  let streamClosed!: () => void;
  const closed = new Promise<void>((r) => (streamClosed = r));
  const posts: Array<(m: any) => void> = [];
  const held: http.ServerResponse[] = [];
  const peer = await startRawHttpServer((req, res) => {
    if (req.method === 'GET') {
      stream = res;
      res.on('close', () => streamClosed());
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      return void res.write('event: endpoint\ndata: /message?sessionId=s1\n\n');
    }
    let body = '';
    req.on('data', (c) => (body += c)).on('end', () => {
      held.push(res);
      posts.shift()?.(JSON.parse(body));
    });
  });
  peers.push(peer);
  return {
    url: peer.url,
    send: (m) => stream!.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`),
    nextPost: () => new Promise((r) => posts.push(r)),
    release: () => held.shift()!.writeHead(202).end('Accepted'),
    streamClosed: closed,
  };
}

/** A raw legacy SSE client: the events its stream brought, and a way to close it. */
async function openStream(url: string) {
  const events: any[] = [];
  let buf = '';
  let endpoint = '';
  const req = http.get(url + '/sse', { headers: { accept: 'text/event-stream' } });
  await new Promise<void>((resolve) => req.on('response', (res) => {
    res.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const lines = buf.slice(0, i).split('\n');
        buf = buf.slice(i + 2);
        const data = lines.find((l) => l.startsWith('data: '))!.slice(6);
        if (lines[0] === 'event: endpoint') (endpoint = data), resolve();
        else events.push(JSON.parse(data));
      }
    }).on('error', () => {});
  }));
  req.on('error', () => {});
  const post = (m: object) => fetch(url + endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(m) }).then((r) => r.text());
  return { events, post, close: () => req.destroy() };
}

async function captured(label: string, drive: (proxyUrl: string, srv: LegacyServer) => Promise<void>) {
  const srv = await legacyServer();
  const proxy = await startProxy({ target: srv.url, port: 0, db: tmp.db, label, onWarning: () => {} });
  try {
    await drive(proxy.url, srv);
    await proxy.flush();
  } finally {
    await proxy.close();
  }
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return store.listSessions().filter((s) => s.label === label && s.transport !== 'http').map((session) => ({
      session,
      messages: store.messages(session.id).map((m) => ({ seq: m.seq, direction: m.direction, kind: m.kind, method: m.method, rpcId: m.rpcId, correlatedSeq: m.correlatedSeq })),
      findings: runChecks({ session, messages: store.messages(session.id), exchanges: store.exchanges(session.id) }, { slowMs: 5000 }).filter((f) => f.severity !== 'info'),
    }));
  } finally {
    store.close();
  }
}

describe('legacy SSE: an answer on the stream that overtakes its POST', () => {
  it('pairs a request with the answer that reached the client before the POST\'s 202 did', async () => {
    const sessions = await captured('overtaken', async (url, srv) => {
      const c = await openStream(url);
      const posted = c.post({ jsonrpc: '2.0', id: 8, method: 'ping' });
      const m = await srv.nextPost();
      srv.send({ jsonrpc: '2.0', id: m.id, result: {} });
      await until(() => c.events.length === 1, 'the answer on the stream');
      srv.release();
      await posted;
      c.close();
      await srv.streamClosed;
    });
    expect(sessions.map((s) => s.messages)).toEqual([[
      { seq: 1, direction: 'client->server', kind: 'request', method: 'ping', rpcId: 8, correlatedSeq: 2 },
      { seq: 2, direction: 'server->client', kind: 'response', method: 'ping', rpcId: 8, correlatedSeq: 1 },
    ]]);
    expect(sessions[0].findings).toEqual([]);
  });

  it('keeps a POST in its session when the client closed its stream before the 202 came back', async () => {
    // server-everything asks for roots ~350 ms after `initialized`: a short session answers and leaves.
    const sessions = await captured('left', async (url, srv) => {
      const c = await openStream(url);
      srv.send({ jsonrpc: '2.0', id: 1, method: 'roots/list' });
      await until(() => c.events.length === 1, 'the request on the stream');
      const posted = c.post({ jsonrpc: '2.0', id: 1, result: { roots: [] } });
      await srv.nextPost();
      c.close();
      await srv.streamClosed;
      srv.release();
      await posted;
    });
    expect(sessions.map((s) => s.messages)).toEqual([[
      { seq: 1, direction: 'server->client', kind: 'request', method: 'roots/list', rpcId: 1, correlatedSeq: 2 },
      { seq: 2, direction: 'client->server', kind: 'response', method: 'roots/list', rpcId: 1, correlatedSeq: 1 },
    ]]);
    expect(sessions[0].findings).toEqual([]);
  });
});
