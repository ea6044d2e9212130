import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { XMLParser } from 'fast-xml-parser';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { runChecks, type Finding } from '../src/analysis/checks/engine.js';
import { connectClient, echoServer, startGatewayLikeServer, startJsonServer, startPlainToolsServer, startRawHttpServer, startSseServer, startStatelessServer, startStreamableServer, startWsServer, type Peer, type ServerFactory } from './helpers/peers.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { tempDb, until } from './helpers/tmp.js';
import { CLAUDE_CODE_UA, discoverProbe } from './helpers/check-scenarios.js';

// Every rule fires on traffic produced for real through the proxy, and stays quiet on a clean
// session. Misbehaving peers are small purpose-built servers and raw HTTP clients.

const tmp = tempDb();
const peers: Peer[] = [];
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--db', tmp.db], { encoding: 'utf8', timeout: 60_000 });
const ACCEPT = 'application/json, text/event-stream';
const INIT = (id = 1, caps: object = {}) => ({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: caps, clientInfo: { name: 'raw-client', version: '1' } } });

afterAll(async () => {
  for (const p of peers) await p.close();
  tmp.cleanup();
});

async function peer<T extends Peer>(p: Promise<T>): Promise<T> {
  const x = await p;
  peers.push(x);
  return x;
}

/** Captures what `drive` does through a fresh proxy; returns the findings of every session it made. */
async function capture(target: string, label: string, drive: (url: string) => Promise<void>, slowMs = 5000): Promise<Finding[]> {
  const proxy = await startProxy({ target, port: 0, db: tmp.db, label, onWarning: () => {} });
  try {
    await drive(proxy.url);
    await proxy.flush();
  } finally {
    await proxy.close();
  }
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return store.listSessions().filter((s) => s.label === label).flatMap((session) =>
      runChecks({ session, messages: store.messages(session.id), exchanges: store.exchanges(session.id) }, { slowMs }));
  } finally {
    store.close();
  }
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
    .then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }));

const readJson = (req: http.IncomingMessage) => new Promise<any>((resolve) => {
  let body = '';
  req.on('data', (c) => (body += c)).on('end', () => resolve(JSON.parse(body)));
});

const of = (fs: Finding[], rule: string) => fs.filter((f) => f.ruleId === rule);
/** Every finding, the root causes and what is folded under them. */
const everything = (fs: Finding[]) => fs.flatMap((f) => [f, ...(f.caused ?? [])]);

describe('a clean session', () => {
  it('fires no error or warning (every rule has a case where it stays quiet)', async () => {
    const srv = await peer(startStreamableServer());
    const fs = await capture(srv.url, 'clean', async (url) => {
      const c = await connectClient('streamable-http', url + '/mcp');
      await c.client.listTools();
      await c.client.callTool({ name: 'echo', arguments: { message: 'fine' } });
      await c.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
      await c.close();
    });
    expect(fs.filter((f) => f.severity !== 'info')).toEqual([]);
  });

  it('fires nothing over SSE or WebSocket either, through all a client does, a call it cancels included', async () => {
    // Claude Code cancels a tool call when the user presses Esc: the server then rightly sends no answer.
    for (const [kind, start, path] of [['streamable-http', startStreamableServer, '/mcp'], ['sse', startSseServer, '/sse'], ['websocket', startWsServer, '/']] as const) {
      const srv = await peer((start as () => Promise<Peer>)());
      const fs = await capture(srv.url, 'busy-' + kind, async (url) => {
        // server-everything asks for roots 350 ms after `initialized`: a session this short could be
        // leaving by then (no fault, but a finding this test does not expect). Its answer goes out first.
        let asked!: () => void;
        const roots = new Promise<void>((r) => (asked = r));
        const c = await connectClient(kind, (kind === 'websocket' ? url.replace(/^http/, 'ws') : url) + path, { onRoots: () => (asked(), { roots: [{ uri: 'file:///tmp/project', name: 'project' }] }) });
        await roots;
        await c.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 } }, undefined, { onprogress: () => {} });
        await c.client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
        await c.client.listResources();
        await c.client.listPrompts();
        await c.client.setLoggingLevel('debug');
        await c.client.ping();
        const ac = new AbortController();
        const call = c.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } }, undefined, { signal: ac.signal });
        setTimeout(() => ac.abort('the user pressed Esc'), 50);
        await expect(call).rejects.toThrow();
        // Sent after the cancellation, answered after it arrived.
        await c.client.ping();
        await c.close();
      });
      expect(fs.filter((f) => f.severity !== 'info'), kind).toEqual([]);
      expect(fs.filter((f) => f.ruleId === 'unanswered').map((f) => f.title), kind).toEqual([expect.stringMatching(/^the client cancelled request \d+: .*Esc/)]);
    }
  });

  it('takes a server request that reached a client already leaving for no fault, and one it ignored while still talking for one', async () => {
    // server-everything asks for roots 350 ms after `initialized`, so a short session can be closing by
    // then. These servers ask as soon as they can, so the test does not race: over WebSocket and legacy
    // SSE on `initialized`; over Streamable HTTP as soon as the client opens its GET stream.
    const asksRoots: ServerFactory = () => {
      const server = new McpServer({ name: 'asks-roots', version: '1.0.0' });
      server.server.oninitialized = () => void server.server.listRoots().catch(() => {});
      return { server };
    };
    const streamableAsksRoots = () => startRawHttpServer((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'asks-roots' });
        return void res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'roots/list' })}\n\n`);
      }
      if (req.method === 'DELETE') return void res.writeHead(200).end();
      void readJson(req).then((m) => {
        if (m.id == null || m.method == null) return void res.writeHead(202, { 'mcp-session-id': 'asks-roots' }).end();
        const result = m.method === 'initialize' ? { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'asks-roots', version: '1' } } : {};
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'asks-roots' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
      });
    });
    for (const [kind, start, path] of [['streamable-http', streamableAsksRoots, '/mcp'], ['sse', () => startSseServer({ factory: asksRoots }), '/sse'], ['websocket', () => startWsServer({ factory: asksRoots }), '/']] as const) {
      const srv = async () => (await peer(start())).url;
      const session = async (url: string, more: (c: { client: import('@modelcontextprotocol/sdk/client/index.js').Client }) => Promise<unknown>) => {
        let asked!: () => void;
        const roots = new Promise<void>((r) => (asked = r));
        const c = await connectClient(kind, (kind === 'websocket' ? url.replace(/^http/, 'ws') : url) + path, { onRoots: () => (asked(), new Promise(() => {})) });
        await roots;
        await more(c);
        await c.close();
      };
      const leaving = await capture(await srv(), 'leaving-' + kind, (url) => session(url, async () => {}));
      expect(leaving.filter((f) => f.severity !== 'info'), kind).toEqual([]);
      expect(of(leaving, 'unanswered').map((f) => f.title), kind).toEqual([expect.stringMatching(/^server→client roots\/list \(id \d+\) was not answered: the client closed the connection first, sending nothing after it$/)]);
      const ignoring = await capture(await srv(), 'ignoring-' + kind, (url) => session(url, (c) => c.client.ping()));
      expect(of(ignoring, 'unanswered').map((f) => `${f.severity} ${f.title}`), kind).toEqual([expect.stringMatching(/^error server→client roots\/list \(id \d+\) got no response; waited \d+\.\ds$/)]);
    }
  });

  it('takes keep-alive pings for what they are, and names JSON-RPC sent under an event name clients skip', async () => {
    // sse-starlette (the Python SDK's servers) sends ": ping" comments and, in older versions, "event: ping" with a timestamp.
    const pinging = await peer(startSseServer({ factory: echoServer, pings: true }));
    const quiet = await capture(pinging.url, 'pings', async (url) => {
      const c = await connectClient('sse', url + '/sse');
      await c.client.callTool({ name: 'echo', arguments: { message: 'between pings' } });
      await c.close();
    });
    expect(quiet.filter((f) => f.severity !== 'info')).toEqual([]);
    // A server that answers under "event: response": the client never reads it.
    const misnamed = await peer(startJsonServer((m, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'misnamed' });
      res.end(`event: response\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'misnamed', version: '1' } } })}\n\n`);
    }));
    const fs = await capture(misnamed.url, 'misnamed', async (url) => void (await post(url + '/mcp', INIT())));
    expect(of(fs, 'invalid-jsonrpc')).toEqual([expect.objectContaining({
      severity: 'error',
      title: 'the server sent invalid JSON-RPC: sent as SSE event "response": clients read only "message" events, so none will see it',
      fix: 'Send JSON-RPC as "event: message" (or with no event line).',
    })]);
  });

  it('stays quiet on a stateless server (no session id), whose standalone GET stream is the client\'s own, offered or declined', async () => {
    const srv = await peer(startStatelessServer());
    const declining = await peer(startStatelessServer({ declineGet: true }));
    for (const [s, label] of [[srv, 'stateless'], [declining, 'stateless-405']] as const) {
      const fs = await capture(s.url, label, async (url) => {
        const c = await connectClient('streamable-http', url + '/mcp');
        await c.client.listTools();
        await c.client.callTool({ name: 'echo', arguments: { message: 'fine' } });
        await c.close();
      });
      expect(fs.filter((f) => f.severity !== 'info'), label).toEqual([]);
    }
    // A 2025-03-26 client sends no MCP-Protocol-Version: its GET to the URL it POSTs to is still its own
    // standalone stream, not a legacy SSE session of its own.
    const sessions: string[] = [];
    const raw = await capture(srv.url, 'stateless-0326', async (url) => {
      const init = INIT(1);
      init.params.protocolVersion = '2025-03-26';
      expect((await post(url + '/mcp', init)).status).toBe(200);
      const ac = new AbortController();
      const r = await fetch(url + '/mcp', { headers: { accept: 'text/event-stream' }, signal: ac.signal });
      sessions.push(r.headers.get('content-type') ?? '');
      ac.abort();
    });
    expect(sessions).toEqual(['text/event-stream']);
    expect(raw.filter((f) => f.severity !== 'info')).toEqual([]);
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const made = store.listSessions().filter((x) => x.label === 'stateless-0326');
      expect(made.map((x) => x.transport)).toEqual(['streamable-http']);
      expect(store.exchanges(made[0].id).map((e) => e.method)).toEqual(['POST', 'GET']);
    } finally {
      store.close();
    }
  });
});

describe('rules', () => {
  it('accept-header: a POST without text/event-stream gets 406, and the missing type is named', async () => {
    const srv = await peer(startStreamableServer());
    const fs = await capture(srv.url, 'accept', async (url) => {
      expect((await post(url + '/mcp', INIT(), { accept: 'application/json' })).status).toBe(406);
    });
    expect(of(fs, 'accept-header')).toHaveLength(1);
    expect(of(fs, 'accept-header')[0]).toMatchObject({ severity: 'error' });
    expect(of(fs, 'accept-header')[0].title).toContain('did not accept text/event-stream');
  });

  it('redirect: /mcp answered 307 to /mcp/ on the upstream (Starlette, LiteLLM), kept on the proxy, with the URL to use', async () => {
    const srv = await peer(startRawHttpServer((req, res) => {
      if (req.url === '/mcp') {
        res.writeHead(307, { location: `http://127.0.0.1:${(req.socket.address() as AddressInfo).port}/mcp/` }).end();
        return;
      }
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const m = JSON.parse(body);
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'after-redirect' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'starlette-like', version: '1' } } }));
      });
    }));
    let proxyUrl = '';
    let location: string | null = null;
    const fs = await capture(srv.url, 'redirect', async (url) => {
      proxyUrl = url;
      const r = await fetch(url + '/mcp', { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json', accept: ACCEPT }, body: JSON.stringify(INIT()) });
      await r.text();
      expect(r.status).toBe(307);
      location = r.headers.get('location');
      // A client that follows the redirect stays on the proxy, and on the record.
      expect((await post(location!, INIT(2))).status).toBe(200);
    });
    expect(location).toBe(`${proxyUrl}/mcp/`);
    const f = of(fs, 'redirect');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ severity: 'error', title: 'POST /mcp answered 307: redirected to /mcp/, and the client did not follow it' });
    expect(f[0].explanation).toContain('trailing slash');
    expect(f[0].explanation).toContain('mcptap rewrote the Location');
    expect(f[0].fix).toContain(`claude mcp add --transport http <name> ${proxyUrl}/mcp/`);
    // Told once, by this rule: the unanswered initialize and the rewrite are part of the same story.
    expect(of(fs, 'unanswered')).toEqual([]);
    expect(of(fs, 'endpoint-rewrite')).toEqual([]);
  });

  it('unknown-tool: the unprefixed name against a prefixing gateway, with the prefixed name suggested', async () => {
    const gw = await peer(startGatewayLikeServer({ prefix: 'db_main-' }));
    const fs = await capture(gw.url, 'unknown-tool', async (url) => {
      const c = await connectClient('streamable-http', url + '/mcp');
      await c.client.listTools();
      await c.client.callTool({ name: 'list_schemas', arguments: {} }).catch(() => undefined);
      await c.client.callTool({ name: 'db_main-query', arguments: { sql: 'select 1' } });
      await c.close();
    });
    const f = of(fs, 'unknown-tool');
    expect(f).toHaveLength(1);
    expect(f[0].title).toBe("tools/call list_schemas: no such tool — the server (or gateway) lists it with the prefix 'db_main-'");
    expect(f[0].fix).toContain("Call 'db_main-list_schemas'");
  });

  it('transport-mismatch: a legacy SSE client at a Streamable HTTP endpoint, and a Streamable client at /sse', async () => {
    const http2 = await peer(startStreamableServer());
    const fs1 = await capture(http2.url, 'sse-at-mcp', async (url) => {
      await connectClient('sse', url + '/mcp').then((c) => c.close(), () => undefined);
    });
    expect(of(fs1, 'transport-mismatch')[0]?.fix).toMatch(/claude mcp add --transport http <name> http:\/\/127\.0\.0\.1:\d+\/mcp/);
    const sse = await peer(startSseServer());
    const fs2 = await capture(sse.url, 'http-at-sse', async (url) => {
      expect((await post(url + '/sse', INIT())).status).toBe(404);
    });
    expect(of(fs2, 'transport-mismatch')[0]?.fix).toMatch(/--transport sse <name> http:\/\/127\.0\.0\.1:\d+\/sse/);
    // A WebSocket client at a server that speaks only HTTP: the upgrade is refused.
    let proxyUrl = '';
    const fs3 = await capture(http2.url, 'ws-at-mcp', async (url) => {
      proxyUrl = url;
      await expect(connectClient('websocket', url.replace(/^http/, 'ws') + '/mcp')).rejects.toThrow(/400/);
    });
    expect(of(fs3, 'transport-mismatch')).toEqual([expect.objectContaining({ severity: 'error', title: 'the server refused the WebSocket upgrade of /mcp with 400' })]);
    expect(of(fs3, 'transport-mismatch')[0].fix).toContain(`claude mcp add --transport http <name> ${proxyUrl}/mcp`);
    expect(of(fs3, 'transport-mismatch')[0].explanation).toContain('Server said: {"jsonrpc":"2.0","error"');
  });

  it('session-header and protocol-version: requests without the issued session id, and with the wrong version', async () => {
    const srv = await peer(startStreamableServer());
    const fs = await capture(srv.url, 'session', async (url) => {
      const init = await post(url + '/mcp', INIT());
      const sid = init.headers.get('mcp-session-id')!;
      await post(url + '/mcp', { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
      expect((await post(url + '/mcp', { jsonrpc: '2.0', id: 2, method: 'tools/list' })).status).toBe(400);
      expect((await post(url + '/mcp', { jsonrpc: '2.0', id: 5, method: 'tools/list' }, { 'mcp-session-id': 'expired-session' })).status).toBe(404);
      await post(url + '/mcp', { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': sid });
      await post(url + '/mcp', { jsonrpc: '2.0', id: 4, method: 'prompts/list' }, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-03-26' });
    });
    const sh = of(fs, 'session-header');
    expect(sh.map((f) => f.title)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^1 request after initialize did not send the Mcp-Session-Id/),
      expect.stringMatching(/answered 404: .*Session not found/),
    ]));
    const pv = of(everything(fs), 'protocol-version');
    expect(pv.map((f) => f.severity).sort()).toEqual(['error', 'warning']);
    expect(pv.find((f) => f.severity === 'error')!.title).toContain('sent MCP-Protocol-Version 2025-03-26, but the session negotiated 2025-11-25');
    // Two of the three requests without the version were refused for their session, the third was not: still told.
    expect(of(fs, 'protocol-version').map((f) => f.severity)).toContain('warning');
  });

  it('auth: 401 with a challenge and no credential, OAuth discovery 404, and a refused key shown by fingerprint', async () => {
    const srv = await peer(startRawHttpServer((req, res) => {
      if (req.url!.startsWith('/.well-known/')) return void res.writeHead(404).end('not found');
      res.writeHead(401, { 'www-authenticate': 'Bearer resource_metadata="/.well-known/oauth-protected-resource"', 'content-type': 'application/json' });
      res.end('{"error":"unauthorized"}');
    }));
    const fs = await capture(srv.url, 'auth', async (url) => {
      await post(url + '/mcp', INIT());
      await fetch(url + '/.well-known/oauth-protected-resource').then((r) => r.text());
      await post(url + '/mcp', INIT(2), { authorization: 'Bearer sk-wrong-key-0000000000001234' });
    });
    const f = of(fs, 'auth');
    expect(f.map((x) => x.severity).sort()).toEqual(['error', 'error', 'warning']);
    expect(f.find((x) => x.title.includes('no credential'))!.title).toContain('WWW-Authenticate: Bearer');
    expect(f.find((x) => x.title.includes('credential sent'))!.title).toMatch(/Bearer \[redacted:[0-9a-f]{8}…1234\]/);
    // Now that an error status's JSON is no message, the finding quotes it.
    expect(f.find((x) => x.title.includes('credential sent'))!.explanation).toContain('Server said: {"error":"unauthorized"}');
    expect(JSON.stringify(f)).not.toContain('sk-wrong-key');
  });

  it('http-status: a wrong path (404), a framework 404, a gateway rate limit (429) and a 400, each told once', async () => {
    const sdk = await peer(startStreamableServer());
    const fastapi = await peer(startJsonServer((_m, res) => void res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not Found"}')));
    const limited = await peer(startJsonServer((_m, res) => void res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '30' })
      .end('{"error":{"message":"Budget has been exceeded! Current cost: 10.2, Max budget: 10.0","type":"budget_exceeded"}}')));
    const picky = await peer(startJsonServer((_m, res) => void res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad request: missing field"}')));
    const titles: string[] = [];
    for (const [p, path, label] of [[sdk, '/wrong', 'wrong-path'], [fastapi, '/mcp', 'fastapi-404'], [limited, '/mcp', 'rate-limit'], [picky, '/mcp', 'bad-request']] as const) {
      let url = '';
      const fs = await capture(p.url, label, async (u) => {
        url = u;
        await expect(connectClient('streamable-http', u + path)).rejects.toThrow();
      });
      // One finding per refused request, and no other rule claims it.
      expect(fs.filter((f) => f.severity !== 'info').map((f) => f.ruleId), label).toEqual(['http-status']);
      const f = of(fs, 'http-status')[0];
      titles.push(f.title);
      if (label === 'wrong-path') expect(f.fix).toContain(`claude mcp add --transport http <name> ${url}/wrong`);
      if (label === 'rate-limit') expect(f.explanation).toContain('Retry-After: 30');
    }
    expect(titles).toEqual([
      'POST /wrong answered 404: there is no MCP endpoint at this URL',
      'POST /mcp answered 404: there is no MCP endpoint at this URL ({"detail":"Not Found"})',
      'POST /mcp answered 429: the server or gateway is rate-limiting the client, or a budget is used up ({"error":{"message":"Budget has been exceeded! Current cost: 10.2, Max budget: 10.0","type":"budget_)',
      'POST /mcp answered 400 ({"error":"bad request: missing field"})',
    ]);
  });

  it('http-status: a --target that already ends in /mcp, with the client adding /mcp again, names the doubled path and the corrected --target', async () => {
    const sdk = await peer(startStreamableServer());
    let url = '';
    const fs = await capture(sdk.url + '/mcp', 'doubled', async (u) => {
      url = u;
      await expect(connectClient('streamable-http', u + '/mcp')).rejects.toThrow();
    });
    expect(fs.filter((f) => f.severity !== 'info').map((f) => `${f.ruleId}: ${f.title}`)).toEqual(['http-status: POST /mcp answered 404: the upstream was asked for /mcp/mcp, /mcp twice (--target already ends in /mcp)']);
    const f = of(fs, 'http-status')[0];
    expect(f.fix).toBe(`Start the proxy with --target ${sdk.url} and keep the client at ${url}/mcp; or keep --target and point the client at the proxy's root: claude mcp add --transport http <name> ${url}/.`);
  });

  it('http-status: a 200 that is a web page or plain text, not JSON-RPC (the target is not an MCP server); told once', async () => {
    for (const [type, body] of [['text/html', '<html><body>Welcome to nginx!</body></html>'], ['text/plain', 'OK']] as const) {
      const site = await peer(startJsonServer((_m, res) => void res.writeHead(200, { 'content-type': type }).end(body)));
      const fs = await capture(site.url, 'page-' + type, async (u) => {
        await expect(connectClient('streamable-http', u + '/mcp')).rejects.toThrow(/Unexpected content type/);
      });
      expect(fs.filter((f) => f.severity !== 'info').map((f) => `${f.ruleId}: ${f.title}`)).toEqual([`http-status: POST /mcp answered 200 with ${type}, not JSON or an event stream`]);
      expect(of(fs, 'http-status')[0].explanation).toContain(`It sent: ${body}`);
    }
  });

  it('rpc-errors: method not found, told with the capability the server did not declare', async () => {
    const srv = await peer(startStreamableServer({ factory: echoServer }));
    const fs = await capture(srv.url, 'rpc-errors', async (url) => {
      const c = await connectClient('streamable-http', url + '/mcp');
      await expect(c.client.listResources()).rejects.toThrow(/-32601/);
      await expect(c.client.request({ method: 'db/vacuum', params: {} }, z.any())).rejects.toThrow(/-32601/);
      await c.close();
    });
    const f = of(fs, 'rpc-errors');
    expect(f.map((x) => `${x.severity}: ${x.title}`)).toEqual([
      'warning: resources/list (id 1) was answered by the server with error -32601: Method not found',
      'warning: db/vacuum (id 2) was answered by the server with error -32601: Method not found',
    ]);
    expect(f[0].explanation).toBe(`The server's initialize answer does not declare "resources", so it has no resources/list; a client should not call it.`);
    expect(f[1].explanation).toBe('The server does not implement db/vacuum.');
    expect(fs.filter((x) => x.severity === 'error')).toEqual([]);
    // Claude Code's server/discover probe refused with a JSON-RPC error is what makes it fall back: no finding.
    const older = await peer(startJsonServer((m, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'older' });
      res.end(JSON.stringify(m.method === 'server/discover'
        ? { jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } }
        : { jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'older', version: '1' } } }));
    }));
    const probed = await capture(older.url, 'probe-refused', async (url) => {
      await post(url + '/mcp', { jsonrpc: '2.0', id: 0, method: 'server/discover', params: {} }, { 'mcp-method': 'server/discover', 'mcp-protocol-version': '2026-07-28' });
      await post(url + '/mcp', INIT(1));
    });
    expect(of(probed, 'rpc-errors')).toEqual([]);
  });

  it('endpoint-rewrite: a rewritten absolute endpoint (info) and one on an unreachable listen address (error)', async () => {
    const abs = await peer(startSseServer({ absoluteEndpoint: true }));
    const fs1 = await capture(abs.url, 'rewritten', async (url) => {
      const c = await connectClient('sse', url + '/sse');
      await c.client.listTools();
      await c.close();
    });
    expect(of(fs1, 'endpoint-rewrite')).toEqual([expect.objectContaining({ severity: 'info' })]);
    const bad = await peer(startRawHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('event: endpoint\ndata: http://0.0.0.0:9/message?sessionId=abc\n\n');
    }));
    const fs2 = await capture(bad.url, 'unreachable-endpoint', async (url) => {
      await fetch(url + '/sse', { headers: { accept: 'text/event-stream' } }).then((r) => r.text());
    });
    expect(of(fs2, 'endpoint-rewrite')[0]).toMatchObject({ severity: 'error' });
    expect(of(fs2, 'endpoint-rewrite')[0].title).toContain('http://0.0.0.0:9, which no client can connect to');
  });

  it('unanswered: a request never answered, an orphan response, a duplicate id in flight, a cancellation', async () => {
    const srv = await peer(startJsonServer((msg, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'unanswered' });
      if (msg.method === 'initialize') return void res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'raw', version: '1' } } })}\n\n`);
      if (msg.method === 'tools/call') return void res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id: 999, result: {} })}\n\n`);
      res.end();
    }));
    const fs = await capture(srv.url, 'unanswered', async (url) => {
      await post(url + '/mcp', INIT());
      const h = { 'mcp-session-id': 'unanswered', 'mcp-protocol-version': '2025-11-25' };
      await post(url + '/mcp', { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'slow', arguments: {} } }, h);
      await post(url + '/mcp', { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'slow', arguments: {} } }, h);
      await post(url + '/mcp', { jsonrpc: '2.0', id: 8, method: 'tools/list' }, h);
      await post(url + '/mcp', { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 8, reason: 'timed out' } }, h);
    });
    // The server ending each POST's stream with the request in flight is the cause; what went unanswered is folded under it.
    const titles = of(everything(fs), 'unanswered').map((f) => `${f.severity}: ${f.title}`);
    expect(titles).toEqual(expect.arrayContaining([
      expect.stringMatching(/^error: tools\/call slow \(id 7\) got no response; waited/),
      expect.stringMatching(/^error: id 7 used again/),
      expect.stringMatching(/^warning: a response with id 999 answers no request/),
      'info: the client cancelled request 8: timed out',
    ]));
    // A cancelled request should go unanswered: not a fault.
    expect(titles.filter((t) => t.includes('(id 8)'))).toEqual([]);
  });

  it('unanswered: a client retrying its server/discover probe (same id, new connection) after the first was refused is no id collision', async () => {
    // A gateway that refuses the probe at the HTTP level with no JSON-RPC answer (so the first probe is never answered).
    const srv = await peer(startJsonServer((m, res) => {
      if (m.method === 'server/discover') return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"detail":"unsupported method"}');
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'after-probe' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: m.method === 'initialize' ? { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'refuses-probes', version: '1' } } : {} }));
    }));
    const fs = await capture(srv.url, 'probe-retried', async (url) => {
      expect(await discoverProbe(url + '/mcp')).toBe(400);
      expect(await discoverProbe(url + '/mcp')).toBe(400);
      expect((await post(url + '/mcp', INIT(0), { 'user-agent': CLAUDE_CODE_UA })).status).toBe(200);
    });
    expect(everything(fs).map((f) => `${f.ruleId}: ${f.title}`)).toEqual([]);
  });

  it('invalid-jsonrpc: a message without "jsonrpc", a body that is not JSON, and a batch under 2025-11-25', async () => {
    const srv = await peer(startStreamableServer());
    const fs = await capture(srv.url, 'invalid', async (url) => {
      const init = await post(url + '/mcp', INIT());
      const h = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
      await post(url + '/mcp', { id: 2, method: 'tools/list' }, h);
      await post(url + '/mcp', '<html>gateway error</html>', h);
      await post(url + '/mcp', [{ jsonrpc: '2.0', id: 3, method: 'tools/list' }, { jsonrpc: '2.0', id: 4, method: 'prompts/list' }], h);
    });
    const titles = of(fs, 'invalid-jsonrpc').map((f) => f.title);
    expect(titles).toEqual(expect.arrayContaining([
      'the client sent invalid JSON-RPC: missing "jsonrpc": "2.0"',
      expect.stringMatching(/^the client sent a body that is not JSON/),
      'the client sent a JSON-RPC batch, which protocol 2025-11-25 does not allow',
    ]));
  });

  it('ordering: a request before initialize completed, and sampling to a client that did not declare it', async () => {
    const srv = await peer(startJsonServer((msg, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'ordering' });
      if (msg.method === 'initialize') return void res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'raw', version: '1' } } })}\n\n`);
      if (msg.method === 'tools/call') {
        res.write(`data: ${JSON.stringify({ jsonrpc: '2.0', id: 's1', method: 'sampling/createMessage', params: { messages: [], maxTokens: 5 } })}\n\n`);
        return void res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [] } })}\n\n`);
      }
      res.end(`data: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { tools: [{ name: 'ask', inputSchema: { type: 'object' } }] } })}\n\n`);
    }));
    const fs = await capture(srv.url, 'ordering', async (url) => {
      await post(url + '/mcp', { jsonrpc: '2.0', id: 0, method: 'tools/list' });
      await post(url + '/mcp', INIT(1, { roots: {} }));
      await post(url + '/mcp', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ask', arguments: {} } }, { 'mcp-session-id': 'ordering', 'mcp-protocol-version': '2025-11-25' });
    });
    const titles = of(fs, 'ordering').map((f) => f.title);
    expect(titles).toEqual(expect.arrayContaining([
      '1 request (tools/list…) sent before the initialize handshake completed',
      'the server sent sampling/createMessage, but the client did not declare the "sampling" capability',
    ]));
  });

  it('tool-errors: an isError result, and a call slower than --slow', async () => {
    const broken = await peer(startPlainToolsServer({ failingTool: 'query' }));
    const fs1 = await capture(broken.url, 'tool-error', async (url) => {
      const c = await connectClient('streamable-http', url + '/mcp');
      await c.client.callTool({ name: 'query', arguments: { sql: 'select * from x' } });
      await c.close();
    });
    expect(of(fs1, 'tool-errors').map((f) => f.title)).toEqual(['tools/call query returned isError: relation "x" does not exist']);
    const srv = await peer(startStreamableServer());
    const fs2 = await capture(srv.url, 'slow', async (url) => {
      const c = await connectClient('streamable-http', url + '/mcp');
      // A real 100 ms of work in the server, not a test sleep.
      await c.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.1, steps: 1 } });
      await c.close();
    }, 50);
    expect(of(fs2, 'tool-errors')[0].title).toMatch(/^tools\/call trigger-long-running-operation took \d+\.\d\ds \(over --slow 50 ms\)$/);
  });

  it('upstream-failure: connection refused, a 500, and a response cut off mid-stream', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const fs1 = await capture(`http://127.0.0.1:${port}`, 'refused', async (url) => {
      expect((await post(url + '/mcp', INIT())).status).toBe(502);
    });
    expect(of(fs1, 'upstream-failure')[0].title).toMatch(/could not be reached \(ECONNREFUSED/);
    const srv = await peer(startRawHttpServer((req, res) => {
      if (req.url === '/boom') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error: db down');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      // Cut the connection once the first event is on the wire: the response is half sent.
      res.write('data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"half"}}\n\n', () => res.socket!.destroy());
    }));
    const fs2 = await capture(srv.url, 'failing', async (url) => {
      await post(url + '/boom', INIT());
      await post(url + '/mcp', INIT(2)).catch(() => undefined);
    });
    const titles = of(everything(fs2), 'upstream-failure').map((f) => f.title);
    expect(titles).toEqual(expect.arrayContaining(['POST /boom answered 500', 'POST /mcp: the upstream closed the connection in the middle of the response']));
  });
});

describe('mcptap check', () => {
  it('exits 1 on errors and writes valid SARIF 2.1.0 and JUnit XML', () => {
    const text = run('check', '--all');
    expect(text.status).toBe(1);
    expect(text.stdout).toContain('[unknown-tool]');
    const sarifRun = run('check', '--all', '--format', 'sarif');
    expect(sarifRun.status).toBe(1);
    const sarif = JSON.parse(sarifRun.stdout);
    // The schema is draft-04; its only draft-04-only keyword is the top-level "id".
    const { id, $schema: _draft, ...schemaBody } = createRequire(import.meta.url)('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
    const schema = { $id: id, ...schemaBody };
    const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, unicodeRegExp: false });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    expect(validate(sarif), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    expect(sarif.runs[0].results.length).toBeGreaterThan(10);
    const junit = run('check', '--all', '--format', 'junit');
    const doc = new XMLParser({ ignoreAttributes: false }).parse(junit.stdout);
    const suites = [doc.testsuites.testsuite].flat();
    expect(suites.length).toBeGreaterThan(5);
    const cases = suites.flatMap((s: any) => [s.testcase].flat());
    expect(cases.some((c: any) => c.failure && c['@_name'] === 'unknown-tool')).toBe(true);
  });

  it('exits 0 on a clean session and 2 on bad input', () => {
    const clean = JSON.parse(run('sessions', '--json').stdout).find((s: any) => s.label === 'clean').id;
    expect(run('check', clean).status).toBe(0);
    expect(run('check', '--format', 'xml').status).toBe(2);
    expect(run('check', 'zzzzzz').status).toBe(2);
  });
});

describe('live checks in mcptap proxy', () => {
  it('prints each error finding once per session, as one line, while traffic flows; a failure that comes back says so', async () => {
    const srv = await peer(startStreamableServer());
    const child = spawn(process.execPath, [cli, 'proxy', '--target', srv.url, '--port', '0', '--db', path.join(tmp.dir, 'live.db')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise((r) => child.on('exit', r));
    try {
      await until(() => /listening on (http:\/\/\S+)/.test(out), 'the banner', 60_000);
      const url = /listening on (http:\/\/\S+)/.exec(out)![1];
      for (let i = 0; i < 3; i++) expect((await post(url + '/mcp', INIT(i), { accept: 'application/json' })).status).toBe(406);
      await until(() => err.includes('[accept-header]'), 'the live finding', 60_000);
      const c = await connectClient('streamable-http', url + '/mcp');
      await c.client.callTool({ name: 'echo', arguments: { message: 'after' } });
      await c.close();
      child.kill('SIGINT');
      await exited;
      // Three attempts, three sessions (each an initialize): the second and third are not silent.
      const lines = err.split('\n').filter((l) => l.includes('check:'));
      expect(lines).toHaveLength(3);
      const ids = lines.map((l) => /session (\w+):/.exec(l)![1]);
      expect(new Set(ids).size).toBe(3);
      expect(lines[0]).toMatch(/^mcptap: check: error \[accept-header\] session \w+: POST \/mcp answered 406 Not Acceptable: the request did not accept text\/event-stream — fix: /);
      for (const l of lines.slice(1)) expect(l).toContain(`406 Not Acceptable: the request did not accept text/event-stream (again, as in session ${ids[0]}) — fix: `);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
