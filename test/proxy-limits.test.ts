import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import zlib from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { connectClient, startRawHttpServer, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// The capture's bounds on what anyone sends (src/capture/limits.ts), set low so the test stays small:
// a gzip "bomb" event stream with no newline stops being decoded at --max-decoded, an exchange of many
// tiny events stores --max-messages of them, and a client posting big text bodies has them stored cut
// past its per-minute budget. Each time the client still gets every byte, the warning comes once, a
// counter counts, and a normal MCP client is served afterwards.

const tmp = tempDb();
let upstream: Peer;
let mcp: Peer;
let proxy: RunningProxy;
let normal: RunningProxy;
const warnings: string[] = [];
const BOMB_DECODED = 48 * 1024 * 1024;
let bomb: Buffer;
const TINY = '{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}';
const EVENTS = 3000;
// 8 MB of JSON that compresses as real payloads do (a few times, not thousands): past --max-decoded, no bomb.
const longAnswer = zlib.gzipSync(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: randomBytes(6 * 1024 * 1024).toString('base64') }] } }));
const tinyEvents = zlib.brotliCompressSync(Buffer.from(`data: ${TINY}\n\n`.repeat(EVENTS)));

beforeAll(async () => {
  // One SSE line of 48 MB with no newline, gzip-encoded: about 47 KB on the wire.
  bomb = zlib.gzipSync(Buffer.concat([Buffer.from('data: '), Buffer.alloc(BOMB_DECODED, 'a')]), { level: 9 });
  upstream = await startRawHttpServer((req, res) => {
    req.resume();
    if (req.url === '/bomb') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      return void res.end(bomb);
    }
    if (req.url === '/long') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      return void res.end(longAnswer);
    }
    if (req.url === '/hold') {
      // One event, then the stream stays open until the client goes.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      return void res.write(`data: ${TINY}\n\n`);
    }
    if (req.url === '/tiny') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'br' });
      return void res.end(tinyEvents);
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  mcp = await startStreamableServer();
  const limits = { maxDecoded: 4 * 1024 * 1024, maxMessages: 500, maxStoredPerClient: 2 * 1024 * 1024, maxStored: 64 * 1024 * 1024, maxStreamsPerClient: 2 };
  proxy = await startProxy({ target: upstream.url, port: 0, db: tmp.db, label: 'limits', limits, onWarning: (w) => warnings.push(w) });
  normal = await startProxy({ target: mcp.url, port: 0, db: tmp.db, label: 'normal', limits, onWarning: (w) => warnings.push(w) });
});

afterAll(async () => {
  await Promise.all([proxy?.close(), normal?.close()]);
  await Promise.all([upstream?.close(), mcp?.close()]);
  tmp.cleanup();
});

/** What the client received, hashed, with the response's status. */
function fetchAll(path: string, method = 'GET', body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number; sha: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(proxy.url + path, { method, headers: { 'user-agent': 'page', ...headers } }, (res) => {
      const h = createHash('sha256');
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        h.update(c);
      });
      res.on('end', () => resolve({ status: res.statusCode!, bytes, sha: h.digest('hex') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function servedAfter(): Promise<void> {
  const c = await connectClient('streamable-http', normal.url + '/mcp', { name: 'after' });
  expect((await c.client.callTool({ name: 'echo', arguments: { message: 'fine' } })).content).toEqual([{ type: 'text', text: 'Echo: fine' }]);
  await c.close();
}

function exchangesOf(url: string) {
  const s = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return s.listSessions().flatMap((x) => s.exchanges(x.id)).filter((e) => e.url === url);
  } finally {
    s.close();
  }
}

describe('capture limits', () => {
  it('stops decoding a compressed body past --max-decoded; the client still gets every byte', async () => {
    const got = await fetchAll('/bomb');
    expect(got).toEqual({ status: 200, bytes: bomb.length, sha: createHash('sha256').update(bomb).digest('hex') });
    await proxy.flush();
    expect(proxy.stats().limited.decoded).toBe(1);
    const [ex] = exchangesOf('/bomb');
    expect(ex.responseBytes).toBe(bomb.length);
    expect(ex.failure).toMatchObject({ kind: 'decoding-failed', body: 'response' });
    expect(warnings.filter((w) => w.includes('--max-decoded'))).toHaveLength(1);
    await servedAfter();
  });

  it('reads a compressed body past --max-decoded whole when it is no bomb', async () => {
    const got = await fetchAll('/long', 'POST', Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"big"}}'), { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'long', 'user-agent': 'long' });
    expect(got.bytes).toBe(longAnswer.length);
    await proxy.flush();
    expect(proxy.stats().limited.decoded).toBe(1);
    const s = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const session = s.listSessions().find((x) => x.mcpSessionId === 'long')!;
      expect(s.messages(session.id).map((m) => `${m.kind} ${m.method}`)).toEqual(['request tools/call', 'response tools/call']);
    } finally {
      s.close();
    }
  });

  it('stores at most --max-messages of one exchange, and counts the rest', async () => {
    const got = await fetchAll('/tiny', 'POST', Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}'), { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'tiny' });
    expect(got.bytes).toBe(tinyEvents.length);
    await proxy.flush();
    const s = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const session = s.listSessions().find((x) => x.mcpSessionId === 'tiny')!;
      expect(s.messages(session.id)).toHaveLength(500);
    } finally {
      s.close();
    }
    expect(proxy.stats().limited.messages).toBe(EVENTS + 1 - 500);
    expect(warnings.filter((w) => w.includes('--max-messages'))).toHaveLength(1);
    await servedAfter();
  });

  it('stores bodies cut to 1 KB once a client is past its per-minute budget', async () => {
    const body = Buffer.alloc(768 * 1024, 'p');
    const before = proxy.stats().limited.stored;
    for (let i = 0; i < 6; i++) expect((await fetchAll('/upload', 'POST', body, { 'content-type': 'text/plain', 'user-agent': 'uploader' })).status).toBe(200);
    await proxy.flush();
    const uploads = exchangesOf('/upload');
    expect(uploads).toHaveLength(6);
    // Every byte forwarded; two whole bodies fit in 2 MiB, the other four are stored cut.
    expect(uploads.every((e) => e.requestBytes === body.length)).toBe(true);
    const stored = uploads.map((e) => e.requestBody?.length ?? 0);
    expect(stored.filter((n) => n === body.length), String(stored)).toHaveLength(2);
    expect(stored.filter((n) => n === 1024)).toHaveLength(4);
    expect(uploads.filter((e) => e.requestTruncated)).toHaveLength(4);
    expect(proxy.stats().limited.stored - before).toBe(4);
    expect(warnings.filter((w) => w.includes('--max-stored'))).toHaveLength(1);
    await servedAfter();
  });

  it('decodes at most --max-streams-per-client event streams of one client at once; the next is forwarded only', async () => {
    const open = (ua: string) => new Promise<http.ClientRequest>((resolve, reject) => {
      const req = http.request(proxy.url + '/hold', { headers: { 'user-agent': ua, accept: 'text/event-stream', 'mcp-session-id': `hold-${ua}` } }, (res) => {
        res.once('data', () => resolve(req));
      });
      req.on('error', () => {});
      req.once('response', (res) => res.on('error', reject));
      req.end();
    });
    const held = [await open('streamer-1'), await open('streamer-1')];
    const third = await open('streamer-1');
    // Another client has slots of its own.
    const other = await open('streamer-2');
    await proxy.flush();
    expect(proxy.stats().limited.streams).toBe(1);
    expect(warnings.filter((w) => w.includes('--max-streams'))).toHaveLength(1);
    for (const r of [...held, third, other]) r.destroy();
    // The proxy has seen all four go (their slots are free) before the next stream opens.
    await until(async () => {
      await proxy.flush();
      return exchangesOf('/hold').filter((e) => e.aborted).length === 4;
    }, 'the four streams recorded as ended by their clients');
    // The slots come back when the streams end: a new one is decoded again.
    const again = await open('streamer-1');
    await proxy.flush();
    again.destroy();
    await proxy.flush();
    expect(proxy.stats().limited.streams).toBe(1);
    const s = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const perSession = s.listSessions().filter((x) => x.mcpSessionId?.startsWith('hold-')).map((x) => s.messages(x.id).length);
      // Four decoded streams (two, the other client's, the one after) carried their event; the third did not.
      expect(perSession.reduce((a, b) => a + b, 0)).toBe(4);
    } finally {
      s.close();
    }
    await servedAfter();
  });
});
