import { afterAll, afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { runChecks, type Finding } from '../src/analysis/checks/engine.js';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { listen } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// An event stream read as the SDK client reads it, through the proxy: an event the stream ends inside
// is dropped by the client, and mcptap says so; a BOM before a legacy stream's endpoint event is read
// past, so the legacy session still binds. The servers write their bytes by hand (no SDK server writes
// either), the client is the real SDK one.

const tmp = tempDb();
const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c().catch(() => {});
});
afterAll(() => tmp.cleanup());

const INIT_RESULT = { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'by-hand', version: '1.0.0' } };
const TOOLS = { tools: [{ name: 'echo', inputSchema: { type: 'object' } }] };

async function readBody(req: http.IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
}

/** A stateless Streamable HTTP server whose tools/call answer comes as one SSE event, finished or not. */
async function streamableServer(finished: boolean, text = 'hi'): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const msg = await readBody(req);
    if (msg.id == null) return void res.writeHead(202).end();
    const result = msg.method === 'initialize' ? INIT_RESULT : msg.method === 'tools/list' ? TOOLS : { content: [{ type: 'text', text }] };
    const answer = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
    if (msg.method !== 'tools/call') return void res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`event: message\ndata: ${answer}\n${finished ? '\n' : ''}`);
  });
  const l = await listen(server);
  return { url: `http://127.0.0.1:${l.port}`, close: l.close };
}

async function proxyFor(url: string, label: string): Promise<RunningProxy> {
  const proxy = await startProxy({ target: url, port: 0, db: tmp.db, label, onWarning: () => {} });
  open.push(() => proxy.close());
  return proxy;
}

function sessionsOf(label: string) {
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return store.listSessions().filter((s) => s.label === label && s.transport !== 'http').map((session) => ({
      session, messages: store.messages(session.id), exchanges: store.exchanges(session.id), streams: store.streams?.(session.id),
    }));
  } finally {
    store.close();
  }
}

const findingsOf = (label: string): Finding[] => {
  const [s] = sessionsOf(label);
  return runChecks({ session: s.session, messages: s.messages, exchanges: s.exchanges, ...(s.streams ? { streams: s.streams } : {}) }, {});
};

describe('an event the stream ends inside', () => {
  it('is recorded with its data, and is the finding: the client dropped it, the call got no answer', async () => {
    const server = await streamableServer(false);
    open.push(server.close);
    const proxy = await proxyFor(server.url, 'unfinished');
    const client = new Client({ name: 'sdk-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(proxy.url + '/mcp')));
    open.push(() => client.close());
    // The client reads no answer and gives up at its limit (no time assertion: only that it did).
    const outcome = await client.callTool({ name: 'echo', arguments: {} }, undefined, { timeout: 500 }).then(() => 'answered', (e: Error) => e.message);
    expect(outcome).toMatch(/timed out/i);
    await proxy.flush();

    const [s] = sessionsOf('unfinished');
    const lost = s.messages.find((m) => m.decodeError?.kind === 'unfinished-sse-event');
    expect(lost).toMatchObject({ kind: 'invalid', direction: 'server->client', channel: 'response-sse', rpcId: 1 });
    expect(JSON.parse(lost!.payload).result.content[0].text).toBe('hi');
    const fs = findingsOf('unfinished').filter((f) => f.severity !== 'info');
    expect(fs.map((f) => f.ruleId)).toEqual(['invalid-jsonrpc']);
    expect(fs[0].title).toBe("the server's stream ended inside an SSE event (the answer to tools/call echo): no client read it");
    // What the lost event explains (the stream's end with the call in flight, the call's timeout) is told under it.
    expect((fs[0].caused ?? []).map((f) => f.ruleId)).toContain('stream-dropped');
  });

  it('a clean run of the same server, each event ended by its blank line: no finding', async () => {
    const server = await streamableServer(true);
    open.push(server.close);
    const proxy = await proxyFor(server.url, 'finished');
    const client = new Client({ name: 'sdk-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(proxy.url + '/mcp')));
    open.push(() => client.close());
    const r = await client.callTool({ name: 'echo', arguments: {} });
    expect((r.content as Array<{ text: string }>)[0].text).toBe('hi');
    await proxy.flush();
    expect(findingsOf('finished')).toEqual([]);
  });
});

describe('a big event (9 MB), under the decoder\'s bound', () => {
  it('reaches the client whole, is decoded whole and answers its call: no finding', async () => {
    const text = 'z'.repeat(9 * 1024 * 1024);
    const server = await streamableServer(true, text);
    open.push(server.close);
    const proxy = await proxyFor(server.url, 'big-event');
    const client = new Client({ name: 'sdk-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(proxy.url + '/mcp')));
    open.push(() => client.close());
    const r = await client.callTool({ name: 'echo', arguments: {} });
    expect((r.content as Array<{ text: string }>)[0].text.length).toBe(text.length);
    await proxy.flush();
    const [s] = sessionsOf('big-event');
    expect(s.messages.find((m) => m.kind === 'response' && m.method === 'tools/call')).toMatchObject({ channel: 'response-sse', truncated: true, decodeError: null });
    expect(findingsOf('big-event').filter((f) => f.severity !== 'info')).toEqual([]);
  });
});

/** A legacy HTTP+SSE server that starts its stream with a UTF-8 BOM, as some frameworks write one. */
async function legacyServer(bom: boolean): Promise<{ url: string; close(): Promise<void> }> {
  let stream: http.ServerResponse | null = null;
  const server = http.createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(Buffer.concat([Buffer.from(bom ? [0xef, 0xbb, 0xbf] : []), Buffer.from('event: endpoint\ndata: /messages?sessionId=b0m\n\n')]));
      stream = res;
      return;
    }
    if (req.method === 'POST' && req.url === '/messages?sessionId=b0m') {
      const msg = await readBody(req);
      res.writeHead(202).end('Accepted');
      if (msg.id == null) return;
      const result = msg.method === 'initialize' ? { ...INIT_RESULT, protocolVersion: '2024-11-05' } : TOOLS;
      stream?.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result })}\n\n`);
      return;
    }
    res.writeHead(404).end();
  });
  const l = await listen(server);
  return { url: `http://127.0.0.1:${l.port}`, close: l.close };
}

describe('a BOM at the start of a legacy stream', () => {
  it.each([true, false])('is read past (BOM: %s): the endpoint binds, and the POSTs join the stream\'s session', async (bom) => {
    const server = await legacyServer(bom);
    open.push(server.close);
    const label = `legacy-bom-${bom}`;
    const proxy = await proxyFor(server.url, label);
    const client = new Client({ name: 'sdk-client', version: '1.0.0' });
    await client.connect(new SSEClientTransport(new URL(proxy.url + '/sse')));
    open.push(() => client.close());
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
    await proxy.flush();
    const sessions = sessionsOf(label);
    expect(sessions.map((s) => [s.session.transport, s.session.mcpSessionId])).toEqual([['sse', 'b0m']]);
    expect(sessions[0].messages.map((m) => `${m.direction} ${m.kind} ${m.method}`)).toEqual([
      'client->server request initialize', 'server->client response initialize',
      'client->server notification notifications/initialized',
      'client->server request tools/list', 'server->client response tools/list',
    ]);
    expect(findingsOf(label).filter((f) => f.severity !== 'info')).toEqual([]);
  });
});
