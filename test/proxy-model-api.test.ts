import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { TurnReader } from '../src/store/turns-read.js';
import { listen } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { clientRequests, readRun, replayHandler, sendRecorded, type Run } from './helpers/claude-fixtures.js';

// Real Claude Code traffic (the fixtures' bytes) through mcptap proxy over real sockets: a server
// answers as the recorded peers did. Both set-ups: one proxy for both halves (a gateway serving
// /v1/messages and /mcp on one port), and two proxies (model API, MCP server) into one database.

const tmp = tempDb();
const servers: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  tmp.cleanup();
});

async function peerFor(run: Run): Promise<string> {
  const l = await listen(http.createServer(replayHandler(readRun(run, 'model'), readRun(run, 'mcp'))));
  servers.push(l);
  return `http://127.0.0.1:${l.port}`;
}

async function runThroughOneProxy(run: Run, db: string): Promise<void> {
  const upstream = await peerFor(run);
  const proxy = await startProxy({ target: upstream, port: 0, db, label: run, onWarning: () => {} });
  try {
    for (const { ex } of clientRequests(run)) {
      const r = await sendRecorded(proxy.url, ex);
      expect(r.status).toBe(ex.status);
      if (ex.url.startsWith('/v1/messages')) expect(r.body).toBe(ex.responseBody);
    }
  } finally {
    await proxy.close();
  }
}

describe('one proxy in front of a gateway serving both halves', () => {
  const runs: Run[] = ['echo-http', 'gateway-prefixed', 'no-such-tool'];
  beforeAll(async () => {
    for (const run of runs) await runThroughOneProxy(run, tmp.db);
  });

  function conversationOf(store: CaptureStore, run: Run) {
    const s = store.listSessions().filter((x) => x.label === run && x.transport === 'model-api');
    expect(s).toHaveLength(1);
    return new TurnReader(store).conversation(s[0]);
  }

  it('each run is one conversation, grouped by x-claude-code-session-id, and its MCP traffic stays MCP', () => {
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      for (const run of runs) {
        const sessions = store.listSessions().filter((x) => x.label === run);
        expect(sessions.map((s) => s.transport).sort()).toEqual(['model-api', 'streamable-http']);
        const conv = sessions.find((s) => s.transport === 'model-api')!;
        expect(conv.mcpSessionId).toBe(readRun(run, 'model')[0].requestHeaders['x-claude-code-session-id']);
        expect(conv.clientInfo).toEqual({ name: 'claude-cli', version: '2.1.330' });
        expect(store.exchanges(conv.id)).toHaveLength(2);
        expect(sessions.some((s) => s.transport === 'http')).toBe(false);
      }
    } finally {
      store.close();
    }
  });

  it('echo-http: the tool use links to its tools/call by the tool-use id, with the result the model got', () => {
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const c = conversationOf(store, 'echo-http');
      expect(c.turns).toHaveLength(2);
      const [t1, t2] = c.turns;
      expect(t1).toMatchObject({ api: 'anthropic-messages', model: 'claude-fake', stopReason: 'tool_use', stream: true, error: null });
      expect(t1.toolsOffered).toHaveLength(40);
      expect(t1.toolsOffered).toContain('mcp__srv__echo');
      expect(t1.toolUses).toHaveLength(1);
      const use = t1.toolUses[0];
      const mcp = store.listSessions().find((s) => s.label === 'echo-http' && s.transport === 'streamable-http')!;
      const call = store.messages(mcp.id, { method: 'tools/call', kinds: ['request'] })[0];
      expect(use).toMatchObject({ name: 'mcp__srv__echo', input: { message: 'hello from fixture' }, linkedBy: 'tool-use-id',
        mcpCall: { session: mcp.id, seq: call.seq }, result: { isError: false, text: 'Echo: hello from fixture' } });
      expect(t2.toolResults).toEqual([{ toolUseId: use.id, isError: false, text: 'Echo: hello from fixture' }]);
      expect(t2.toolsHash).toBe(t1.toolsHash);
    } finally {
      store.close();
    }
  });

  it('no-such-tool: the tool use has no MCP call, and the model got the error Claude Code made up', () => {
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const c = conversationOf(store, 'no-such-tool');
      const use = c.turns[0].toolUses[0];
      expect(use).toMatchObject({ name: 'mcp__srv__echo', mcpCall: null, linkedBy: null, result: null });
      expect(c.turns[0].toolsOffered).toContain('mcp__srv__db_main-echo');
      expect(c.turns[1].toolResults[0]).toMatchObject({ toolUseId: use.id, isError: true });
    } finally {
      store.close();
    }
  });

  it('stores each tools array and system prompt once, and the request bodies without them', () => {
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const blobs = store.db.prepare(`SELECT count(*) AS n FROM blobs`).get() as { n: number };
      // Per run one tools array and one names list; two system prompts (the first turn's differs); echo-http
      // and the two gateway runs offer different tools, the two gateway runs the same.
      expect(blobs.n).toBeLessThanOrEqual(3 * 2 + 6);
      const conv = store.listSessions().find((s) => s.label === 'echo-http' && s.transport === 'model-api')!;
      for (const ex of store.exchanges(conv.id)) {
        const body = JSON.parse(ex.requestBody!);
        expect(body.tools).toEqual({ $blob: expect.stringMatching(/^[0-9a-f]{32}$/) });
        expect(body.system).toEqual({ $blob: expect.stringMatching(/^[0-9a-f]{32}$/) });
        expect(Array.isArray(body.messages)).toBe(true);
      }
    } finally {
      store.close();
    }
  });

  it('no model key reaches the database files', () => {
    for (const f of fs.readdirSync(tmp.dir)) {
      const bytes = fs.readFileSync(`${tmp.dir}/${f}`);
      expect(bytes.includes('sk-ant-fixture-key-0000'), f).toBe(false);
    }
  });
});

describe('a client that sends no tool-use id (other clients, older Claude Code)', () => {
  const db3 = tempDb();
  afterAll(() => db3.cleanup());

  it('echo-http without _meta["claudecode/toolUseId"]: linked by name, arguments and time', async () => {
    const strip = (t: string) => t.replace(/"claudecode\/toolUseId":"[^"]*",?/, '');
    const mcp = readRun('echo-http', 'mcp').map((ex) => ({ ...ex, requestBody: strip(ex.requestBody) }));
    const l = await listen(http.createServer(replayHandler(readRun('echo-http', 'model'), mcp)));
    servers.push(l);
    const proxy = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: db3.db, onWarning: () => {} });
    try {
      for (const { ex } of clientRequests('echo-http')) await sendRecorded(proxy.url, { ...ex, requestBody: strip(ex.requestBody) });
    } finally {
      await proxy.close();
    }
    const store = CaptureStore.open(db3.db, { readonly: true });
    try {
      const conv = store.listSessions().find((s) => s.transport === 'model-api')!;
      const use = new TurnReader(store).conversation(conv).turns[0].toolUses[0];
      expect(use).toMatchObject({ linkedBy: 'name-args-time', result: { isError: false, text: 'Echo: hello from fixture' } });
    } finally {
      store.close();
    }
  });
});

describe('two proxies into one database: one before the model API, one before the MCP server', () => {
  const db2 = tempDb();
  afterAll(() => db2.cleanup());

  it('gateway-prefixed: the join still works across the two proxies', async () => {
    const upstream = await peerFor('gateway-prefixed');
    const modelProxy = await startProxy({ target: upstream, port: 0, db: db2.db, label: 'model', onWarning: () => {} });
    const mcpProxy = await startProxy({ target: upstream, port: 0, db: db2.db, label: 'mcp', onWarning: () => {} });
    try {
      for (const { half, ex } of clientRequests('gateway-prefixed')) {
        const r = await sendRecorded(half === 'model' ? modelProxy.url : mcpProxy.url, ex);
        expect(r.status).toBe(ex.status);
      }
    } finally {
      await modelProxy.close();
      await mcpProxy.close();
    }
    const store = CaptureStore.open(db2.db, { readonly: true });
    try {
      const conv = store.listSessions().find((s) => s.transport === 'model-api')!;
      expect(conv.label).toBe('model');
      const mcp = store.listSessions().find((s) => s.transport === 'streamable-http')!;
      expect(mcp.label).toBe('mcp');
      const use = new TurnReader(store).conversation(conv).turns[0].toolUses[0];
      expect(use).toMatchObject({ name: 'mcp__srv__db_main-echo', linkedBy: 'tool-use-id', mcpCall: { session: mcp.id }, result: { isError: false } });
    } finally {
      store.close();
    }
  });
});

describe('model API keys', () => {
  const db4 = tempDb();
  afterAll(() => db4.cleanup());

  it('x-api-key, Authorization, api-key and x-goog-api-key never reach the database files, even echoed in a body', async () => {
    const keys = { 'x-api-key': 'sk-ant-api03-SECRETSECRET-1111', authorization: 'Bearer sk-litellm-SECRET-2222', 'api-key': 'azure-SECRET-3333', 'x-goog-api-key': 'AIzaSECRET-4444' };
    // An upstream that echoes what it got (as an error page sometimes does).
    const l = await listen(http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: `bad key ${req.headers['x-api-key']} ${req.headers.authorization} ${req.headers['api-key']} ${req.headers['x-goog-api-key']}` } })));
    }));
    servers.push(l);
    const proxy = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: db4.db, onWarning: () => {} });
    try {
      for (const path of ['/v1/messages', '/v1/chat/completions', '/v1/responses']) {
        const r = await fetch(proxy.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...keys },
          body: JSON.stringify({ model: 'm', input: 'hi', messages: [{ role: 'user', content: `my key is ${keys['x-api-key']}` }] }) });
        expect(r.status).toBe(401);
        await r.text();
      }
    } finally {
      await proxy.close();
    }
    const store = CaptureStore.open(db4.db, { readonly: true });
    try {
      const convs = store.listSessions().filter((s) => s.transport === 'model-api');
      expect(convs).toHaveLength(3);
      expect(new TurnReader(store).turns(convs[0].id)[0].error).toMatchObject({ status: 401, type: 'authentication_error' });
    } finally {
      store.close();
    }
    for (const f of fs.readdirSync(db4.dir)) {
      const bytes = fs.readFileSync(`${db4.dir}/${f}`);
      for (const k of Object.values(keys)) expect(bytes.includes(k.replace(/^Bearer /, '')), `${k} in ${f}`).toBe(false);
    }
  });
});
