import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import type { RpcMessage, Session } from '../src/model/model.js';
import { connectClient, startSseServer, startStatelessServer, startStreamableServer, startWsServer, type Peer, type TransportKind } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// The real SDK client and server-everything, for each transport: once direct, once through mcptap.
// The client must see the same results, and the database must hold every message, correlated.

interface Outcome {
  tools: string[];
  echo: unknown;
  sum: unknown;
  progress: number[];
  longRun: unknown;
  sampled: unknown;
  resource: unknown;
  prompts: string[];
  prompt: unknown;
}

async function scenario(client: Client): Promise<Outcome> {
  const tools = (await client.listTools()).tools.map((t) => t.name).sort();
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'through the wire' } });
  const sum = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
  const progress: number[] = [];
  const longRun = await client.callTool(
    { name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 3 } },
    undefined,
    { onprogress: (p) => progress.push(p.progress) },
  );
  const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 5 } });
  const resources = await client.listResources();
  const resource = await client.readResource({ uri: resources.resources[0].uri });
  const prompts = (await client.listPrompts()).prompts.map((p) => p.name).sort();
  const prompt = await client.getPrompt({ name: 'simple-prompt' });
  return { tools, echo, sum, progress, longRun, sampled, resource, prompts, prompt };
}

const tmp = tempDb();
const peers: Peer[] = [];
const proxies: RunningProxy[] = [];

afterAll(async () => {
  for (const p of proxies) await p.close();
  for (const p of peers) await p.close();
  tmp.cleanup();
});

const cases: Array<{ kind: TransportKind; start: () => Promise<Peer>; path: string; channel: RpcMessage['channel'] }> = [
  { kind: 'streamable-http', start: () => startStreamableServer(), path: '/mcp', channel: 'response-sse' },
  { kind: 'sse', start: () => startSseServer(), path: '/sse', channel: 'get-sse' },
  { kind: 'websocket', start: () => startWsServer(), path: '/', channel: 'ws-frame' },
];

describe.each(cases)('$kind through the proxy', ({ kind, start, path, channel }) => {
  let peer: Peer;
  let proxy: RunningProxy;
  let direct: Outcome;
  let proxied: Outcome;
  let session: Session;
  let messages: RpcMessage[];

  beforeAll(async () => {
    peer = await start();
    peers.push(peer);
    proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, label: kind, onWarning: () => {} });
    proxies.push(proxy);
    const base = kind === 'websocket' ? proxy.url.replace('http', 'ws') : proxy.url;
    const a = await connectClient(kind, peer.endpoint);
    direct = await scenario(a.client);
    await a.close();
    const b = await connectClient(kind, base + path, { name: 'through-mcptap' });
    proxied = await scenario(b.client);
    await b.close();
    await proxy.flush();
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      session = store.listSessions().find((s) => s.label === kind && s.transport === kind)!;
      messages = store.messages(session.id);
    } finally {
      store.close();
    }
  });

  it('gives the client the same results as talking directly', () => {
    expect(proxied).toEqual(direct);
    expect(proxied.tools).toContain('echo');
    // The SDK client may drop the last progress callback when the result lands in the same read; the
    // wire (checked below) carries all three.
    expect([1, 2, 3].slice(0, proxied.progress.length)).toEqual(proxied.progress);
    expect(proxied.progress.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(proxied.sampled)).toContain('sampled');
  });

  it('records the handshake on the session', () => {
    expect(session).toBeDefined();
    expect(session.clientInfo?.name).toBe('through-mcptap');
    expect(session.serverInfo?.name).toBe('mcp-servers/everything');
    expect(session.protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(session.clientCapabilities).toHaveProperty('sampling');
    expect(session.serverCapabilities).toHaveProperty('tools');
    if (kind !== 'websocket') expect(session.mcpSessionId).toBeTruthy();
  });

  it('stores every client request with its response, correlated, with latency', () => {
    const requests = messages.filter((m) => m.kind === 'request' && m.direction === 'client->server');
    expect(requests.map((m) => m.method)).toEqual([
      'initialize', 'tools/list', 'tools/call', 'tools/call', 'tools/call', 'tools/call',
      'resources/list', 'resources/read', 'prompts/list', 'prompts/get',
    ]);
    for (const r of requests) {
      expect(r.correlatedSeq, `${r.method} #${r.rpcId} has a response`).not.toBeNull();
      const res = messages.find((m) => m.seq === r.correlatedSeq)!;
      expect(res.direction).toBe('server->client');
      expect(res.rpcId).toEqual(r.rpcId);
      expect(res.method).toBe(r.method);
      expect(res.correlatedSeq).toBe(r.seq);
      expect(res.latencyMs).toBeGreaterThanOrEqual(0);
    }
    expect(requests.filter((m) => m.method === 'tools/call').map((m) => m.subject)).toEqual([
      'echo', 'get-sum', 'trigger-long-running-operation', 'trigger-sampling-request',
    ]);
    expect(messages.find((m) => m.method === 'resources/read' && m.kind === 'request')!.subject).toMatch(/^\w+:\/\//);
  });

  it('stores the server→client sampling request and the client answer, correlated', () => {
    const sampling = messages.find((m) => m.method === 'sampling/createMessage' && m.kind === 'request')!;
    expect(sampling.direction).toBe('server->client');
    const answer = messages.find((m) => m.seq === sampling.correlatedSeq)!;
    expect(answer).toMatchObject({ direction: 'client->server', kind: 'response', method: 'sampling/createMessage' });
    expect(answer.payload).toContain('test-model');
  });

  it('stores progress notifications on the channel that carried them, in order', () => {
    const progress = messages.filter((m) => m.method === 'notifications/progress');
    expect(progress.map((m) => JSON.parse(m.payload).params.progress)).toEqual([1, 2, 3]);
    expect(progress.every((m) => m.channel === channel)).toBe(true);
    const seqs = messages.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('counts no errors in a clean session', () => {
    expect(messages.filter((m) => m.isError || m.kind === 'invalid' || m.kind === 'non-json')).toEqual([]);
    expect(session.errorCount).toBe(0);
    expect(session.messageCount).toBe(messages.length);
  });
});

describe('many clients at once', () => {
  it('keeps two clients of a stateless server apart (same address and User-Agent, as two Claude Code windows)', async () => {
    // No Mcp-Session-Id to tell them apart: each client is known by the connections it keeps alive.
    const peer = await startStatelessServer();
    peers.push(peer);
    const db = tmp.dir + '/stateless-two.db';
    const proxy = await startProxy({ target: peer.url, port: 0, db, onWarning: () => {} });
    proxies.push(proxy);
    const client = (name: string) => {
      // Two pooled connections, as a client that sends calls in parallel keeps.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
      let id = 0;
      const send = (body: object) => new Promise<string>((resolve, reject) => {
        const req = http.request(proxy.url + '/mcp', { method: 'POST', agent, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'user-agent': 'claude-code/2.1.0', ...(name && id > 1 ? { 'mcp-protocol-version': '2025-11-25' } : {}) } }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
      return {
        init: (as = name) => send({ jsonrpc: '2.0', id: id++, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: as, version: '1' } } }),
        call: (message: string) => send({ jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name: 'echo', arguments: { message } } }),
        close: () => agent.destroy(),
      };
    };
    const a = client('window-a');
    const b = client('window-b');
    try {
      await a.init();
      await b.init();
      for (let k = 0; k < 3; k++) {
        const [ra, ra2] = await Promise.all([a.call(`from a ${k}`), a.call(`from a ${k}+`)]);
        expect(ra + ra2).toContain(`from a ${k}+`);
        expect(await b.call(`from b ${k}`)).toContain(`from b ${k}`);
      }
      // Window a reconnects (a new session, on its pooled connections): its calls are the new session's.
      await a.init('window-c');
      await Promise.all([a.call('from c 0'), a.call('from c 1'), a.call('from c 2')]);
    } finally {
      a.close();
      b.close();
    }
    await proxy.flush();
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const sessions = store.listSessions().filter((s) => s.transport === 'streamable-http');
      expect(sessions.map((s) => s.clientInfo?.name).sort()).toEqual(['window-a', 'window-b', 'window-c']);
      for (const s of sessions) {
        const mine = s.clientInfo!.name.slice(-1);
        const calls = store.messages(s.id).filter((m) => m.method === 'tools/call');
        expect(calls, s.clientInfo!.name).toHaveLength(mine === 'a' ? 12 : 6);
        for (const m of calls) expect(m.payload).toContain(`from ${mine} `);
        // Ids repeat across the two clients (both count from 0): each answer is paired within its own session.
        expect(calls.every((m) => m.correlatedSeq != null)).toBe(true);
      }
    } finally {
      store.close();
    }
  });

  it('keeps 50 concurrent Streamable HTTP sessions apart', async () => {
    const peer = await startStreamableServer();
    peers.push(peer);
    const db = tmp.dir + '/concurrent.db';
    const proxy = await startProxy({ target: peer.url, port: 0, db, onWarning: () => {} });
    proxies.push(proxy);
    const n = 50;
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: `client-${i}` });
      for (let k = 0; k < 3; k++) {
        const r = await c.client.callTool({ name: 'echo', arguments: { message: `c${i}-m${k}` } });
        expect(JSON.stringify(r)).toContain(`c${i}-m${k}`);
      }
      await c.close();
    }));
    await proxy.flush();
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const sessions = store.listSessions().filter((s) => s.transport === 'streamable-http');
      expect(sessions).toHaveLength(n);
      for (const s of sessions) {
        const i = Number(s.clientInfo!.name.split('-')[1]);
        const calls = store.messages(s.id).filter((m) => m.method === 'tools/call');
        // Three calls and three answers, every one of them this client's own.
        expect(calls).toHaveLength(6);
        for (const m of calls) expect(m.payload).toContain(`c${i}-m`);
        expect(calls.every((m) => m.correlatedSeq != null)).toBe(true);
      }
    } finally {
      store.close();
    }
  });
});
