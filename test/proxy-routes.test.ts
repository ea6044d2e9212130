import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewriteText } from '../src/model/facts.js';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { connectClient, echoServer, startPlainToolsServer, startRawHttpServer, startSseServer, startWsServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// One proxy, several named upstreams under /s/NAME/…: each client reaches its own server, the rewrites
// (legacy endpoint, redirects, OAuth metadata) keep clients under the route's prefix, and each
// session records its own route's target.

const tmp = tempDb();
let tools: Peer;
let sse: Peer;
let absSse: Peer;
let raw: Peer;
let ws: Peer;
let proxy: RunningProxy;

beforeAll(async () => {
  tools = await startPlainToolsServer();
  sse = await startSseServer();
  absSse = await startSseServer({ absoluteEndpoint: true });
  ws = await startWsServer({ factory: echoServer });
  raw = await startRawHttpServer((req, res) => {
    if (req.url === '/mcp') return void res.writeHead(307, { location: `${raw.url}/mcp/` }).end();
    if (req.url === '/.well-known/oauth-protected-resource/mcp') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ resource: `${raw.url}/mcp`, authorization_servers: ['https://auth.example'] }));
    }
    if (req.url === '/mcp/') {
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${raw.url}/.well-known/oauth-protected-resource/mcp"` });
      return void res.end();
    }
    res.writeHead(404).end();
  });
  proxy = await startProxy({
    routes: { db: tools.url + '/mcp', legacy: sse.url, 'legacy-abs': absSse.url, guarded: raw.url, sock: ws.url },
    port: 0, db: tmp.db, onWarning: () => {},
  });
});

afterAll(async () => {
  await proxy.close();
  await Promise.all([tools.close(), sse.close(), absSse.close(), raw.close(), ws.close()]);
  tmp.cleanup();
});

describe('proxy routes', () => {
  it('serves each named upstream under its prefix, Streamable HTTP and legacy SSE, with a session per route', async () => {
    const a = await connectClient('streamable-http', `${proxy.url}/s/db`, { name: 'claude-code' });
    const b = await connectClient('sse', `${proxy.url}/s/legacy/sse`, { name: 'claude-code' });
    const c = await connectClient('sse', `${proxy.url}/s/legacy-abs/sse`, { name: 'claude-code' });
    const d = await connectClient('websocket', `${proxy.url.replace(/^http/, 'ws')}/s/sock/`, { name: 'claude-code' });
    expect((await d.client.callTool({ name: 'echo', arguments: { message: 'd' } })).content).toEqual([{ type: 'text', text: 'd' }]);
    await d.close();
    expect((await a.client.callTool({ name: 'echo', arguments: { message: 'a' } })).content).toEqual([{ type: 'text', text: 'Echo: a' }]);
    expect((await b.client.callTool({ name: 'echo', arguments: { message: 'b' } })).content).toEqual([{ type: 'text', text: 'Echo: b' }]);
    expect((await c.client.callTool({ name: 'echo', arguments: { message: 'c' } })).content).toEqual([{ type: 'text', text: 'Echo: c' }]);
    await Promise.all([a.close(), b.close(), c.close()]);
    await proxy.flush();
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const sessions = store.listSessions({}).filter((s) => s.transport !== 'http');
      const byTarget = Object.fromEntries(sessions.map((s) => [s.target, s]));
      expect(Object.keys(byTarget).sort()).toEqual([absSse.url, sse.url, tools.url + '/mcp', ws.url].sort());
      expect(byTarget[ws.url].transport).toBe('websocket');
      expect(byTarget[tools.url + '/mcp'].transport).toBe('streamable-http');
      expect(byTarget[sse.url].transport).toBe('sse');
      // Each session is labelled with its route's name (the Claude Code server), as a wrapped stdio one is.
      expect(Object.fromEntries(sessions.map((s) => [s.target, s.label]))).toEqual({ [tools.url + '/mcp']: 'db', [sse.url]: 'legacy', [absSse.url]: 'legacy-abs', [ws.url]: 'sock' });
      for (const s of sessions) {
        const msgs = [...store.iterateMessages(s.id)];
        expect(msgs.filter((m) => m.method === 'tools/call' && m.kind === 'request')).toHaveLength(1);
      }
      // The legacy endpoints were moved under the route's prefix (relative and absolute alike).
      const rewrites = sessions.flatMap((s) => store.exchanges(s.id)).flatMap((e) => e.rewrites).map(rewriteText);
      expect(rewrites).toEqual(expect.arrayContaining([
        expect.stringMatching(/^endpoint \/message\?sessionId=\S+ → \/s\/legacy\/message\?sessionId=/),
        expect.stringMatching(new RegExp(`^endpoint ${absSse.url}/message\\?sessionId=\\S+ → ${proxy.url}/s/legacy-abs/message\\?sessionId=`)),
      ]));
    } finally {
      store.close();
    }
  });

  it('keeps redirects and OAuth discovery on the route', async () => {
    const r = await fetch(`${proxy.url}/s/guarded/mcp`, { redirect: 'manual' });
    expect(r.status).toBe(307);
    expect(r.headers.get('location')).toBe(`${proxy.url}/s/guarded/mcp/`);
    const challenge = await fetch(`${proxy.url}/s/guarded/mcp/`);
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${proxy.url}/s/guarded/.well-known/oauth-protected-resource/mcp"`);
    // Both the URL the challenge names and the one RFC 9728 builds from the resource's URL reach it.
    for (const url of [`${proxy.url}/s/guarded/.well-known/oauth-protected-resource/mcp`, `${proxy.url}/.well-known/oauth-protected-resource/s/guarded/mcp`]) {
      const meta = (await (await fetch(url)).json()) as { resource: string };
      expect(meta.resource).toBe(`${proxy.url}/s/guarded/mcp`);
    }
  });

  it('answers a path under no route with 404 and the routes it has', async () => {
    for (const path of ['/mcp', '/s/nope/mcp']) {
      const r = await fetch(proxy.url + path, { method: 'POST', body: '{}' });
      expect(r.status).toBe(404);
      expect(r.headers.get('x-mcptap-error')).toBe('no-route');
      expect(((await r.json()) as { error: string }).error).toBe(`mcptap: ${path} is not under a route of this proxy; its routes are /s/db/, /s/legacy/, /s/legacy-abs/, /s/guarded/, /s/sock/`);
    }
  });
});
