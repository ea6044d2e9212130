import http from 'node:http';
import { rewriteText } from '../src/model/facts.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { listen } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// The forwarder's request transforms: --gateway-debug adds LiteLLM's x-litellm-mcp-debug to MCP routes only,
// recorded on the exchange; without it the upstream sees the headers exactly as the client sent them.
// (The real LiteLLM answering it: test/interop/litellm-gateway.test.ts.)

const tmp = tempDb();
const seen: Array<{ url: string; raw: string[] }> = [];
let upstream: { port: number; close(): Promise<void> };

beforeAll(async () => {
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', raw: req.rawHeaders });
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-mcp-debug-outbound-url': 'http://127.0.0.1:9/sse' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}');
    });
  });
  upstream = await listen(server);
});
afterAll(async () => {
  await upstream.close();
  tmp.cleanup();
});

async function post(proxyUrl: string, path: string): Promise<void> {
  const r = await fetch(proxyUrl + path, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'X-Custom': 'kept' },
    body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
  });
  await r.text();
}

describe('request transforms', () => {
  it('--gateway-debug adds x-litellm-mcp-debug to MCP routes and records it; not elsewhere, not without the flag', async () => {
    const debugging = await startProxy({ target: `http://127.0.0.1:${upstream.port}`, port: 0, db: tmp.db, gatewayDebug: true, onWarning: () => {} });
    await post(debugging.url, '/mcp/');
    await post(debugging.url, '/db_main/mcp');
    await post(debugging.url, '/v1/messages');
    await debugging.close();
    const plain = await startProxy({ target: `http://127.0.0.1:${upstream.port}`, port: 0, db: tmp.db, onWarning: () => {} });
    await post(plain.url, '/mcp/');
    await plain.close();

    const debugOf = (i: number) => seen[i].raw.filter((_, j) => j % 2 === 0).map((k) => k.toLowerCase()).includes('x-litellm-mcp-debug');
    expect([0, 1, 2, 3].map(debugOf)).toEqual([true, true, false, false]);
    // Everything else as the client sent it, in order.
    const names = (i: number) => seen[i].raw.filter((_, j) => j % 2 === 0).filter((k) => k.toLowerCase() !== 'x-litellm-mcp-debug');
    expect(names(0)).toEqual(names(3));

    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const exchanges = store.listSessions().flatMap((s) => store.exchanges(s.id)).sort((a, b) => a.startedAt - b.startedAt);
      expect(exchanges.map((e) => [e.url, e.rewrites.map(rewriteText).join('; ') || null])).toEqual([
        ['/mcp/', 'request header x-litellm-mcp-debug: true added (--gateway-debug)'],
        ['/db_main/mcp', 'request header x-litellm-mcp-debug: true added (--gateway-debug)'],
        ['/v1/messages', null],
        ['/mcp/', null],
      ]);
    } finally {
      store.close();
    }
  });
});
