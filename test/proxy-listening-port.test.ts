import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { startMock, type RunningMock } from '../src/replay/mock.js';
import { readRecording } from '../src/store/jsonl.js';
import { connectClient, echoServer, listen, startWsServer, type Peer } from './helpers/peers.js';
import { fileURLToPath } from 'node:url';

// The listening port is reachable from any web page: malformed route names, resets after a refused
// upgrade and DNS-rebinding requests (a foreign Host or Origin) each get an answer, never a crash, and a
// normal client is served after each. The upstream is a real SDK server with its own rebinding defence,
// which answers 403 to a foreign Host: through the proxy it sees the proxy's Host, so the proxy decides.

let guarded: { url: string; port: number; close(): Promise<void> };
let ws: Peer;
let routes: RunningProxy;
let single: RunningProxy;
let allowing: RunningProxy;
const warnings: string[] = [];

/** An SDK server that refuses any Host but its own (the SDK's DNS-rebinding protection). */
async function startGuardedServer() {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let port = 0;
  const server = http.createServer(async (req, res) => {
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let transport = sid ? sessions.get(sid) : undefined;
    if (!transport) {
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableDnsRebindingProtection: true,
        allowedHosts: [`127.0.0.1:${port}`],
        onsessioninitialized: (id) => void sessions.set(id, t),
      });
      await echoServer().server.connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res);
  });
  const l = await listen(server);
  port = l.port;
  return { url: `http://127.0.0.1:${l.port}`, port: l.port, close: l.close };
}

beforeAll(async () => {
  guarded = await startGuardedServer();
  ws = await startWsServer({ factory: echoServer });
  routes = await startProxy({ routes: { srv: guarded.url, sock: ws.url }, port: 0, db: null, onWarning: (w) => warnings.push(w) });
  single = await startProxy({ target: guarded.url, port: 0, db: null, onWarning: (w) => warnings.push(w) });
  allowing = await startProxy({ target: guarded.url, port: 0, db: null, allowHosts: ['mcp.test'], allowOrigins: ['https://app.example'], onWarning: () => {} });
});

afterAll(async () => {
  await Promise.all([routes?.close(), single?.close(), allowing?.close()]);
  await Promise.all([guarded?.close(), ws?.close()]);
});

/** Writes raw bytes and resolves with what came back by the time the proxy closed the connection. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let out = '';
    s.on('data', (c) => (out += c.toString('latin1')));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

/** Sends a WebSocket upgrade, waits for the first bytes of the answer, then resets the connection. */
function upgradeThenReset(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`));
    s.once('data', (c) => {
      s.resetAndDestroy();
      resolve(c.toString('latin1'));
    });
    s.on('error', reject);
  });
}

/** A normal client still gets a tool answered through the proxy. */
async function served(url: string): Promise<void> {
  const c = await connectClient('streamable-http', url, { name: 'after' });
  expect((await c.client.callTool({ name: 'echo', arguments: { message: 'still here' } })).content).toEqual([{ type: 'text', text: 'still here' }]);
  await c.close();
}

const port = (p: RunningProxy) => p.port;

describe('routes mode under malformed paths', () => {
  it.each(['/s/%zz/mcp', '/s/%E0%A4%A/mcp', '/.well-known/oauth-protected-resource/s/%zz/mcp'])('answers 404 to %s and keeps serving', async (path) => {
    const answer = await raw(port(routes), `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    await served(`${routes.url}/s/srv/mcp`);
  });

  it('answers 404 to a WebSocket upgrade to a malformed path, and to a reset after it', async () => {
    expect(await upgradeThenReset(port(routes), '/s/%zz/')).toMatch(/^HTTP\/1\.1 404 /);
    expect(await upgradeThenReset(port(routes), '/nowhere')).toMatch(/^HTTP\/1\.1 404 /);
    // The reset reaches the proxy's half-closed socket after the 404: the next client proves it lived.
    const c = await connectClient('websocket', `${routes.url.replace(/^http/, 'ws')}/s/sock/`, { name: 'after' });
    expect((await c.client.callTool({ name: 'echo', arguments: { message: 'ws' } })).content).toEqual([{ type: 'text', text: 'ws' }]);
    await c.close();
    await served(`${routes.url}/s/srv/mcp`);
  });
});

describe('DNS rebinding', () => {
  it('the SDK server refuses a foreign Host by itself', async () => {
    const r = await raw(guarded.port, `POST /mcp HTTP/1.1\r\nHost: evil.example:${guarded.port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    expect(r).toMatch(/^HTTP\/1\.1 403 /);
  });

  it.each([['single target', () => single, '/mcp'], ['routes', () => routes, '/s/srv/mcp']] as const)('%s: a foreign Host gets 403 from the proxy and nothing goes upstream', async (_, proxy, path) => {
    const p = proxy();
    const before = p.stats().exchanges;
    const answer = await raw(port(p), `POST ${path} HTTP/1.1\r\nHost: evil.example:${port(p)}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(answer).toContain("Host 'evil.example:");
    expect(answer).toContain('--allow-host evil.example');
    expect(p.stats().exchanges).toBe(before);
    expect(p.stats().refused).toBeGreaterThan(0);
    await served(`${p.url}${path}`);
  });

  it('refuses a foreign Host on a WebSocket upgrade with 403', async () => {
    const answer = await raw(port(routes), `GET /s/sock/ HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
  });

  it('refuses a browser Origin that is not a local page, serves local ones', async () => {
    const post = (origin: string) => raw(port(single), `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port(single)}\r\nOrigin: ${origin}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    const evil = await post('https://evil.example');
    expect(evil).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(evil).toContain('--allow-origin https://evil.example');
    expect(await post('null')).toMatch(/^HTTP\/1\.1 403 /);
    // A local page gets through to the server (which answers the empty body itself, not with 403).
    expect(await post('http://localhost:6274')).not.toMatch(/^HTTP\/1\.1 403 /);
  });

  it('accepts --allow-host and --allow-origin, and the upstream still gets its own Host', async () => {
    const answer = await raw(port(allowing), `POST /mcp HTTP/1.1\r\nHost: mcp.test:${port(allowing)}\r\nOrigin: https://app.example\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    // Past mcptap and past the SDK's own Host check: the SDK answers the empty object as bad JSON-RPC.
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).not.toContain('Invalid Host');
  });

  it('warns once per refused name', () => {
    expect(warnings.filter((w) => w.includes("Host 'evil.example:")).length).toBeLessThanOrEqual(3);
  });
});

describe('mcptap mock', () => {
  let mock: RunningMock;
  beforeAll(async () => {
    mock = await startMock({ recording: readRecording(fileURLToPath(new URL('./fixtures/recording-v4.jsonl', import.meta.url))), port: 0, onWarning: () => {} });
  });
  afterAll(async () => mock?.close());

  it('refuses a foreign Host and a foreign Origin with 403, HTTP and WebSocket', async () => {
    expect(await raw(mock.port, `POST /mcp HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`)).toMatch(/^HTTP\/1\.1 403 /);
    expect(await raw(mock.port, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`)).toMatch(/^HTTP\/1\.1 403 /);
    expect(await raw(mock.port, `GET / HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)).toMatch(/^HTTP\/1\.1 403 /);
    // A local request is answered by the mock itself.
    expect(await raw(mock.port, `GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 404 /);
  });
});
