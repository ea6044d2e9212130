import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import zlib from 'node:zlib';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { startRawHttpServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// Exchanges whose messages were forwarded but not recorded: a server selection LiteLLM-style with a
// malformed percent-escape (`x-mcp-servers: 50%-off`, `/mcp/%zz`), and a gzip request body that takes
// longer to decode than the upstream takes to answer (the upstream answers on the request's head).

const tmp = tempDb();
let upstream: Peer;
let proxy: RunningProxy;
const warnings: string[] = [];

beforeAll(async () => {
  upstream = await startRawHttpServer((req, res) => {
    // Answer at once, on the request's head: the proxy's copy of the request is still decoding. The body
    // is read all the same, so the connection is not cut under the upload.
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'done' }] } }));
  });
  proxy = await startProxy({ target: upstream.url, port: 0, db: tmp.db, onWarning: (w) => warnings.push(w) });
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
  tmp.cleanup();
});

function post(path: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(proxy.url + path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const call = (id: number, extra = '') => Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'query', arguments: { sql: 'select 1', pad: extra } } }));

function recorded(sessionHeader: string): string[] {
  const s = CaptureStore.open(tmp.db, { readonly: true });
  try {
    const session = s.listSessions().find((x) => x.mcpSessionId === sessionHeader);
    return session ? s.messages(session.id).map((m) => `${m.kind} ${m.method}`) : [];
  } finally {
    s.close();
  }
}

describe('messages of an exchange the proxy forwarded', () => {
  it.each([
    ['x-mcp-servers: 50%-off', '/mcp', { 'x-mcp-servers': '50%-off' }],
    ['/mcp/%zz', '/mcp/%zz', {}],
  ])('are recorded with %s', async (name, path, headers) => {
    const sid = `records-${name.length}`;
    expect(await post(path, call(7), { 'mcp-session-id': sid, ...headers })).toBe(200);
    await proxy.flush();
    expect(recorded(sid)).toEqual(['request tools/call', 'response tools/call']);
    expect(warnings.filter((w) => /URI|malformed/i.test(w))).toEqual([]);
  });

  it('are recorded when a gzip request body decodes after the upstream answered', async () => {
    // 12 MB of JSON that gzip makes ~12 KB (under --max-decoded, a bomb's bound): zlib decodes it in many
    // steps, the answer comes in one.
    const body = zlib.gzipSync(call(7, ' '.repeat(12 * 1024 * 1024)));
    expect(body.length).toBeLessThan(200 * 1024);
    expect(await post('/mcp', body, { 'mcp-session-id': 'records-gzip', 'content-encoding': 'gzip' })).toBe(200);
    await proxy.flush();
    expect(recorded('records-gzip')).toEqual(['request tools/call', 'response tools/call']);
  });
});
