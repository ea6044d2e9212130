import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { startRawHttpServer, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// Protocol details that clients other than the SDK exercise: Claude Code's server/discover probe and
// its fallback, session teardown with DELETE, 2025-03-26 batches, and traffic that is not MCP at all.

const tmp = tempDb();
let everything: Peer;
let proxy: RunningProxy;

beforeAll(async () => {
  everything = await startStreamableServer();
  proxy = await startProxy({ target: everything.url, port: 0, db: tmp.db, label: 'protocol', onWarning: () => {} });
});

afterAll(async () => {
  await proxy.close();
  await everything.close();
  tmp.cleanup();
});

const CLAUDE = { accept: 'application/json, text/event-stream', 'accept-encoding': 'identity', 'user-agent': 'claude-code/2.1.330 (sdk-cli)', 'content-type': 'application/json' };

async function post(url: string, headers: Record<string, string>, body: unknown) {
  const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

describe('Claude Code wire (observed 2026-11)', () => {
  it('keeps the failed server/discover probe, the initialize fallback and the GET stream in one session', async () => {
    const probe = await post(proxy.url + '/mcp', { ...CLAUDE, 'mcp-method': 'server/discover', 'mcp-protocol-version': '2026-07-28' },
      { jsonrpc: '2.0', id: 0, method: 'server/discover', params: {} });
    expect(probe.status).toBe(400);
    const init = await post(proxy.url + '/mcp', CLAUDE, {
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: { roots: {} }, clientInfo: { name: 'claude-code', version: '2.1.330' } },
    });
    expect(init.status).toBe(200);
    const sid = init.headers.get('mcp-session-id')!;
    expect(sid).toBeTruthy();
    const h = { ...CLAUDE, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    expect((await post(proxy.url + '/mcp', h, { jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    const tools = await post(proxy.url + '/mcp', h, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(tools.text).toContain('"echo"');
    const del = await fetch(proxy.url + '/mcp', { method: 'DELETE', headers: h });
    expect(del.status).toBe(200);
    await proxy.flush();

    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const session = store.listSessions().find((s) => s.mcpSessionId === sid)!;
      expect(session.clientInfo).toMatchObject({ name: 'claude-code', version: '2.1.330' });
      expect(session.protocolVersion).toBe('2025-11-25');
      expect(session.endReason).toBe('delete');
      expect(session.endedAt).not.toBeNull();
      const ex = store.exchanges(session.id);
      expect(ex.map((e) => [e.method, e.status])).toEqual([['POST', 400], ['POST', 200], ['POST', 202], ['POST', 200], ['DELETE', 200]]);
      expect(ex[0].requestHeaders).toContainEqual(['mcp-method', 'server/discover']);
      const msgs = store.messages(session.id);
      expect(msgs.map((m) => `${m.direction === 'client->server' ? '>' : '<'} ${m.kind} ${m.method}`)).toEqual([
        '> request server/discover',
        '< error server/discover',
        '> request initialize',
        '< response initialize',
        '> notification notifications/initialized',
        '> request tools/list',
        '< response tools/list',
      ]);
      // The refused probe is how a 2026 client finds an older server: the client recovered, so it is no error.
      expect(session.errorCount).toBe(0);
    } finally {
      store.close();
    }
  });
});

describe('batches and plain HTTP', () => {
  it('decodes a JSON-RPC batch into its members, each correlated', async () => {
    const upstream = await startRawHttpServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const batch = JSON.parse(body) as Array<{ id?: number; method: string }>;
        const answers = batch.filter((m) => m.id != null).map((m) => ({ jsonrpc: '2.0', id: m.id, result: { echoed: m.method } }));
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'batch-session' });
        res.end(JSON.stringify(answers));
      });
    });
    const p = await startProxy({ target: upstream.url, port: 0, db: tmp.db, label: 'batch', onWarning: () => {} });
    try {
      const r = await post(p.url + '/mcp', { ...CLAUDE, 'mcp-session-id': 'batch-session' }, [
        { jsonrpc: '2.0', id: 10, method: 'tools/list' },
        { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
        { jsonrpc: '2.0', id: 11, method: 'prompts/list' },
      ]);
      expect(JSON.parse(r.text)).toHaveLength(2);
      await p.flush();
      const store = CaptureStore.open(tmp.db, { readonly: true });
      try {
        const s = store.listSessions().find((x) => x.mcpSessionId === 'batch-session')!;
        const msgs = store.messages(s.id);
        expect(msgs.map((m) => [m.direction, m.kind, m.method, m.batchIndex])).toEqual([
          ['client->server', 'request', 'tools/list', 0],
          ['client->server', 'notification', 'notifications/roots/list_changed', 1],
          ['client->server', 'request', 'prompts/list', 2],
          ['server->client', 'response', 'tools/list', 0],
          ['server->client', 'response', 'prompts/list', 1],
        ]);
        expect(msgs[2].correlatedSeq).toBe(5);
      } finally {
        store.close();
      }
    } finally {
      await p.close();
      await upstream.close();
    }
  });

  it('passes traffic that is not MCP untouched and records it as plain exchanges', async () => {
    const upstream = await startRawHttpServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', model: JSON.parse(body).model }));
      });
    });
    const p = await startProxy({ target: upstream.url, port: 0, db: tmp.db, label: 'plain', onWarning: () => {} });
    try {
      // Model API turns have sessions of their own (proxy-model-api.test.ts); an embeddings call is plain HTTP.
      const r = await post(p.url + '/v1/embeddings', { 'content-type': 'application/json' }, { model: 'gpt-x', input: 'hi' });
      expect(JSON.parse(r.text).model).toBe('gpt-x');
      await p.flush();
      const store = CaptureStore.open(tmp.db, { readonly: true });
      try {
        const s = store.listSessions().find((x) => x.label === 'plain')!;
        expect(s.transport).toBe('http');
        expect(store.messages(s.id)).toEqual([]);
        const [ex] = store.exchanges(s.id);
        expect(ex).toMatchObject({ method: 'POST', url: '/v1/embeddings', status: 200 });
        expect(ex.responseBody).toContain('chat.completion');
      } finally {
        store.close();
      }
    } finally {
      await p.close();
      await upstream.close();
    }
  });
});

describe('mcptap proxy (the command)', () => {
  it('prints where it listens and the claude mcp add lines, captures, and flushes on Ctrl-C', async () => {
    const db = path.join(tmp.dir, 'cli.db');
    const child = spawn(process.execPath, [path.resolve('dist/src/cli/main.js'), 'proxy', '--target', everything.url, '--port', '0', '--db', db, '--label', 'cli'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await until(() => out.includes('claude mcp add --transport sse'), 'the banner', 60_000);
      const url = /listening on (http:\/\/\S+)/.exec(out)![1];
      expect(out).toContain(`target    ${everything.url}`);
      expect(out).toContain(`database  ${db}`);
      expect(out).toContain(`claude mcp add --transport http mcptap ${url}/mcp`);
      expect(out).toContain(`claude mcp add --transport sse mcptap ${url}/sse`);
      expect(out).toContain(`ANTHROPIC_BASE_URL=${url} claude`);
      const r = await post(url + '/mcp', CLAUDE, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cli-test', version: '1' } } });
      expect(r.status).toBe(200);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(err).toContain('flushing captures');
    } finally {
      child.kill('SIGKILL');
    }
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const [s] = store.listSessions();
      expect(s).toMatchObject({ label: 'cli', endReason: 'proxy-stopped' });
      expect(s.clientInfo?.name).toBe('cli-test');
      expect(store.messages(s.id).map((m) => m.method)).toEqual(['initialize', 'initialize']);
    } finally {
      store.close();
    }
  });
});

describe('listening beyond loopback', () => {
  it('warns when --host is not a loopback address', async () => {
    const child = spawn(process.execPath, [path.resolve('dist/src/cli/main.js'), 'proxy', '--target', everything.url, '--port', '0', '--host', '0.0.0.0', '--db', path.join(tmp.dir, 'open.db')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    try {
      await until(() => err.includes('not loopback'), 'the warning', 60_000);
      expect(err).toMatch(/warning: listening on 0\.0\.0\.0, not loopback/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
