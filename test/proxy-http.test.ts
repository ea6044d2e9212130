import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { tempDb, until } from './helpers/tmp.js';

// Raw upstream behaviours the MCP SDK never produces on its own: binary bodies, gzip, garbage, an SSE
// stream that stays open, an absolute legacy endpoint. Every assertion reads the real socket output.

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;
const routes = new Map<string, Handler>();
let upstream: http.Server;
let upstreamUrl: string;
let proxy: RunningProxy;
const tmp = tempDb();
const openStreams = new Set<http.ServerResponse>();
let upstreamClosedRequests = 0;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function send(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(proxy.url + path, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function store() {
  return CaptureStore.open(tmp.db, { readonly: true });
}

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const h = routes.get(new URL(req.url!, 'http://x').pathname);
      if (h) h(req, res, Buffer.concat(chunks));
      else res.writeHead(404).end('no route');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  proxy = await startProxy({ target: upstreamUrl, port: 0, db: tmp.db, label: 'raw', onWarning: () => {} });
});

afterAll(async () => {
  for (const s of openStreams) s.destroy();
  await proxy?.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  tmp.cleanup();
});

describe('forwarding', () => {
  it('passes binary bodies byte-identical in both directions', async () => {
    const reqBody = randomBytes(1024 * 1024 + 7);
    const resBody = randomBytes(3 * 1024 * 1024 + 11);
    routes.set('/blob', (_req, res, body) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-request-sha': sha(body) });
      res.end(resBody);
    });
    const r = await send('POST', '/blob', reqBody, { 'content-type': 'application/octet-stream' });
    expect(r.headers['x-request-sha']).toBe(sha(reqBody));
    expect(sha(r.body)).toBe(sha(resBody));
  });

  it('delivers an SSE event while the upstream still holds the stream open', async () => {
    let hold: http.ServerResponse | null = null;
    routes.set('/slow-sse', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\nid: 1\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"first"}}\n\n');
      hold = res;
      openStreams.add(res);
    });
    // If the proxy buffered the stream, this would only resolve after the upstream ended, which it
    // does only after the client saw the event: the test would time out.
    const got = await new Promise<string>((resolve, reject) => {
      const req = http.request(proxy.url + '/slow-sse', { headers: { accept: 'text/event-stream', 'mcp-session-id': 'held-stream' } }, (res) => {
        res.once('data', (c: Buffer) => {
          resolve(c.toString());
          req.destroy();
        });
      });
      req.on('error', () => {});
      req.on('close', () => reject(new Error('closed before the first event')));
      req.end();
    });
    expect(got).toContain('"first"');
    expect(hold).not.toBeNull();
  });

  it('opens an SSE stream for the client while the upstream has sent its head and no event yet', async () => {
    // A standalone GET stream: the server answers 200 text/event-stream and may stay quiet for minutes.
    // The client must see its stream open (SDK clients wait for the head before they go on).
    routes.set('/quiet-sse', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'quiet-stream' });
      res.flushHeaders();
      openStreams.add(res);
    });
    const head = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(proxy.url + '/quiet-sse', { headers: { accept: 'text/event-stream', 'mcp-session-id': 'quiet-stream' } }, (res) => {
        resolve(res);
        req.destroy();
      });
      req.on('error', () => {});
      req.on('close', () => reject(new Error('closed before the head arrived')));
      req.end();
    });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-type']).toBe('text/event-stream');
  });

  it('passes Last-Event-ID through on a resumed stream and records it with the replayed events\' ids', async () => {
    let seen: string | undefined;
    routes.set('/resume', (req, res) => {
      seen = req.headers['last-event-id'] as string | undefined;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'resume-session' });
      // The events after the one the client last saw, as a server with an event store replays them.
      for (const id of [8, 9]) res.write(`id: ${id}\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"event ${id}"}}\n\n`);
      res.end();
    });
    const r = await send('GET', '/resume', undefined, { accept: 'text/event-stream', 'mcp-session-id': 'resume-session', 'last-event-id': '7' });
    expect(seen).toBe('7');
    expect(r.body.toString()).toContain('id: 9');
    await proxy.flush();
    const s = store();
    try {
      const session = s.listSessions().find((x) => x.mcpSessionId === 'resume-session')!;
      const [ex] = s.exchanges(session.id);
      expect(ex.requestHeaders).toContainEqual(['last-event-id', '7']);
      expect(s.messages(session.id).map((m) => [m.channel, m.sseEventId, m.method])).toEqual([
        ['get-sse', '8', 'notifications/message'],
        ['get-sse', '9', 'notifications/message'],
      ]);
    } finally {
      s.close();
    }
  });

  it('decodes gzip for the tap only: the client gets the compressed bytes', async () => {
    const json = JSON.stringify({ jsonrpc: '2.0', id: 7, result: { tools: [{ name: 'zipped_tool', inputSchema: { type: 'object' } }] } });
    const gz = zlib.gzipSync(json);
    routes.set('/gz', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'mcp-session-id': 'gz-session' });
      res.end(gz);
    });
    const r = await send('POST', '/gz', JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }), {
      'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'gz-session',
    });
    expect(sha(r.body)).toBe(sha(gz));
    await proxy.flush();
    const s = store();
    try {
      const session = s.listSessions().find((x) => x.mcpSessionId === 'gz-session')!;
      const msgs = s.messages(session.id);
      expect(msgs.map((m) => [m.direction, m.kind, m.method])).toEqual([
        ['client->server', 'request', 'tools/list'],
        ['server->client', 'response', 'tools/list'],
      ]);
      expect(msgs[1].payload).toContain('zipped_tool');
      expect(msgs[0].correlatedSeq).toBe(2);
    } finally {
      s.close();
    }
  });

  it('forwards a body in an encoding it cannot decode unchanged, and records the encoding (and the raw bytes), not a "not JSON" message', async () => {
    const zstd = randomBytes(64);
    routes.set('/zstd', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'zstd', 'mcp-session-id': 'zstd-session' });
      res.end(zstd);
    });
    const sent = randomBytes(48);
    const r = await send('POST', '/zstd', sent, {
      'content-type': 'application/json', 'content-encoding': 'zstd', accept: 'application/json, text/event-stream', 'mcp-session-id': 'zstd-session',
    });
    expect(sha(r.body)).toBe(sha(zstd));
    await proxy.flush();
    const s = store();
    try {
      const ex = s.listSessions().flatMap((x) => s.exchanges(x.id)).find((e) => e.url === '/zstd')!;
      expect(ex.failure).toEqual({ kind: 'decoding-failed', body: 'request', detail: 'unsupported content-encoding: zstd' });
      expect([ex.requestBytes, ex.responseBytes]).toEqual([48, 64]);
      expect(ex.sessionId == null ? [] : s.messages(ex.sessionId).filter((m) => m.exchangeId === ex.id)).toEqual([]);
    } finally {
      s.close();
    }
  });

  it('forwards malformed JSON and garbage SSE unchanged and stores them raw with a decode error', async () => {
    const garbage = 'data: {"jsonrpc":"2.0", oops\n\n\x00\x01binary\n\nevent: message\ndata: not json at all\n\n';
    routes.set('/garbage', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'garbage-session' });
      res.end(garbage);
    });
    const bad = '{"jsonrpc":"2.0","id":1,"method":"tools/call",';
    const r = await send('POST', '/garbage', bad, {
      'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'garbage-session',
    });
    expect(r.body.toString('latin1')).toBe(garbage);
    await proxy.flush();
    const s = store();
    try {
      const session = s.listSessions().find((x) => x.mcpSessionId === 'garbage-session')!;
      const msgs = s.messages(session.id);
      expect(msgs[0]).toMatchObject({ direction: 'client->server', kind: 'non-json', payload: bad });
      expect(msgs[0].decodeError).toBeTruthy();
      const fromServer = msgs.filter((m) => m.direction === 'server->client');
      expect(fromServer.length).toBeGreaterThanOrEqual(2);
      expect(fromServer.every((m) => m.kind === 'non-json' && m.decodeError)).toBe(true);
      expect(fromServer.map((m) => m.payload)).toContain('not json at all');
    } finally {
      s.close();
    }
  });

  it('answers 502 with a JSON body naming the target when the upstream is unreachable, and stays up', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const p2 = await startProxy({ target: `http://127.0.0.1:${deadPort}`, port: 0, db: tmp.db, label: 'dead', onWarning: () => {} });
    try {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } });
      for (let i = 0; i < 2; i++) {
        const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = http.request(p2.url + '/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
            let b = '';
            res.on('data', (c) => (b += c));
            res.on('end', () => resolve({ status: res.statusCode!, body: b }));
          });
          req.on('error', reject);
          req.end(body);
        });
        expect(r.status).toBe(502);
        const j = JSON.parse(r.body);
        expect(j.target).toBe(`http://127.0.0.1:${deadPort}`);
        expect(j.cause).toMatch(/ECONNREFUSED/);
      }
      await p2.flush();
      const s = store();
      try {
        const sessions = s.listSessions().filter((x) => x.label === 'dead');
        const exchanges = sessions.flatMap((x) => s.exchanges(x.id));
        expect(exchanges).toHaveLength(2);
        expect(exchanges.every((e) => e.status === 502 && e.failure?.kind === 'upstream-unreachable' && e.failure.code === 'ECONNREFUSED')).toBe(true);
        // mcptap's own 502 body is kept on the exchange, never taken for a message from the server.
        const msgs = sessions.flatMap((x) => s.messages(x.id));
        expect(msgs.map((m) => [m.direction, m.method])).toEqual([['client->server', 'initialize'], ['client->server', 'initialize']]);
        expect(exchanges[0].responseBody).toContain('the upstream request failed');
      } finally {
        s.close();
      }
    } finally {
      await p2.close();
    }
  });
});

describe('client aborts', () => {
  it('aborts the upstream stream, marks the exchange aborted, and leaks no descriptors over 1,000 aborts', async () => {
    routes.set('/forever', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      res.on('close', () => upstreamClosedRequests++);
      openStreams.add(res);
      req.socket.on('close', () => openStreams.delete(res));
    });
    const abortOnce = () => new Promise<void>((resolve) => {
      const req = http.request(proxy.url + '/forever', { headers: { accept: 'text/event-stream', 'mcp-session-id': 'abort-session' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.end();
    });
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 20; i++) await abortOnce();
    await until(() => upstreamClosedRequests >= 20, 'upstream streams to close');
    const before = fds();
    for (let i = 0; i < 1000; i++) await abortOnce();
    await until(() => upstreamClosedRequests >= 1020, 'upstream to see all 1,020 aborts', 60_000);
    await until(() => fds() <= before + 5, 'descriptors to settle', 60_000);
    expect(fds()).toBeLessThanOrEqual(before + 5);
    await proxy.flush();
    const s = store();
    try {
      const session = s.listSessions().find((x) => x.mcpSessionId === 'abort-session')!;
      const ex = s.exchanges(session.id);
      expect(ex).toHaveLength(1020);
      expect(ex.every((e) => e.aborted && e.endedAt != null)).toBe(true);
    } finally {
      s.close();
    }
  }, 60_000);
});

describe('legacy endpoint rewrite', () => {
  it('rewrites an absolute endpoint on the upstream origin to the proxy, and records it', async () => {
    routes.set('/abs-sse', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`event: endpoint\ndata: ${upstreamUrl}/message?sessionId=abc-123\n\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"é"}}\n\n`);
    });
    const r = await send('GET', '/abs-sse', undefined, { accept: 'text/event-stream' });
    const text = r.body.toString('utf8');
    expect(text).toContain(`data: ${proxy.url}/message?sessionId=abc-123\n\n`);
    expect(text).not.toContain(upstreamUrl);
    expect(text).toContain('"data":"é"');
    await proxy.flush();
    const s = store();
    try {
      const session = s.listSessions().find((x) => x.mcpSessionId === 'abc-123')!;
      expect(session.transport).toBe('sse');
      const [ex] = s.exchanges(session.id);
      expect(ex.rewrites).toEqual([{ kind: 'sse-endpoint', before: `${upstreamUrl}/message?sessionId=abc-123`, after: `${proxy.url}/message?sessionId=abc-123` }]);
    } finally {
      s.close();
    }
  });

  it('leaves a relative endpoint byte-identical', async () => {
    const body = 'event: endpoint\ndata: /message?sessionId=rel-1\n\n';
    routes.set('/rel-sse', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(body);
    });
    const r = await send('GET', '/rel-sse', undefined, { accept: 'text/event-stream' });
    expect(r.body.toString()).toBe(body);
  });
});

describe('stored copy caps', () => {
  it('forwards bodies whole, stores them cut and flagged at --max-body, and an event stream at --max-stream-body with every event a message', async () => {
    const db = tmp.db.replace(/\.db$/, '-caps.db');
    const capped = await startProxy({ target: upstreamUrl, port: 0, db, maxBody: 64 * 1024, maxStreamBody: 4096, onWarning: () => {} });
    const event = (i: number) => `id: ${i}\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'e'.repeat(1000) + i } })}\n\n`;
    routes.set('/caps-json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { blob: 'j'.repeat(100_000) } }));
    });
    routes.set('/caps-sse', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 20; i++) res.write(event(i));
      res.end();
    });
    try {
      const get = (path: string, headers: Record<string, string>) => new Promise<Buffer>((resolve, reject) => {
        http.get(capped.url + path, { headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        }).on('error', reject);
      });
      const json = await get('/caps-json', { 'mcp-session-id': 'caps-a' });
      expect(json.length).toBeGreaterThan(100_000);
      const sse = await get('/caps-sse', { 'mcp-session-id': 'caps-b', accept: 'text/event-stream' });
      expect(sse.toString()).toBe(Array.from({ length: 20 }, (_, i) => event(i)).join(''));
      await capped.flush();
      const s = CaptureStore.open(db, { readonly: true });
      try {
        const byMcpId = (id: string) => s.listSessions().find((x) => x.mcpSessionId === id)!;
        const [jsonEx] = s.exchanges(byMcpId('caps-a').id);
        expect(jsonEx.responseTruncated).toBe(true);
        expect(jsonEx.responseBody!.length).toBe(64 * 1024);
        expect(jsonEx.responseBytes).toBe(json.length);
        const [jsonMsg] = s.messages(byMcpId('caps-a').id);
        expect(jsonMsg.truncated).toBe(true);
        expect(jsonMsg.payload.length).toBe(64 * 1024);
        const streamSession = byMcpId('caps-b');
        const [sseEx] = s.exchanges(streamSession.id);
        expect(sseEx.responseTruncated).toBe(true);
        expect(sseEx.responseBody).toBe(sse.subarray(0, 4096).toString());
        const msgs = s.messages(streamSession.id);
        expect(msgs).toHaveLength(20);
        expect(msgs.every((m, i) => !m.truncated && m.payload.endsWith(`${i}"}}`))).toBe(true);
      } finally {
        s.close();
      }
    } finally {
      await capped.close();
    }
  });
});
