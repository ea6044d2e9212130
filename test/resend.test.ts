import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { connectClient, startJsonServer, startRawHttpServer, startSseServer, startStreamableServer, streamableHandler, type Peer, type TransportKind } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// mcptap resend: one recorded request sent again to the real server-everything, after the handshake
// its session made, recorded as a new session, its answer compared with the original's.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const peers: Peer[] = [];

const run = (args: string[], env: NodeJS.ProcessEnv = {}) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
  const child = spawn(process.execPath, [cli, ...args, '--db', tmp.db], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  child.on('exit', (status) => resolve({ status, stdout, stderr }));
});

async function capture(kind: TransportKind, peer: Peer, label: string): Promise<string> {
  const proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, label, onWarning: () => {} });
  try {
    const c = await connectClient(kind, proxy.url + (kind === 'sse' ? '/sse' : '/mcp'), { name: 'resend-test' });
    await c.client.listTools();
    await c.client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    await c.close();
  } finally {
    await proxy.close();
  }
  return withStore((s) => s.listSessions().find((x) => x.label === label)!.id);
}

function withStore<T>(fn: (s: CaptureStore) => T): T {
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

const echoSeq = (id: string) => withStore((s) => s.messages(id).find((m) => m.method === 'tools/call' && m.kind === 'request')!.seq);

beforeAll(async () => {
  peers.push(await startStreamableServer(), await startSseServer());
});

afterAll(async () => {
  for (const p of peers) await p.close();
  tmp.cleanup();
});

describe('mcptap resend', () => {
  // Each test spawns the command a few times: on a loaded machine that takes a while.
  it('says what it waits for when the server does not answer', { timeout: 90_000 }, async () => {
    const id = await capture('streamable-http', peers[0], 'orig-wait');
    const held: import('node:http').ServerResponse[] = [];
    // Answers the handshake, then holds the call: what a hung upstream looks like.
    const silent = await startJsonServer((body, res) => {
      if (body?.method === 'initialize') return void res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's-1' }).end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { protocolVersion: body.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'silent', version: '1' } } }));
      if (!('id' in (body ?? {}))) return void res.writeHead(202).end();
      held.push(res);
    });
    peers.push(silent);
    const r = await run(['resend', id, String(echoSeq(id)), '--target', silent.url, '--timeout', '2']);
    for (const res of held) res.destroy();
    expect(r.stderr).toContain('mcptap: waiting up to 2s for the answer to tools/call (id 2)');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('now: no answer');
  });

  it('stops at a refused handshake and says why (a redacted key), instead of sending on and ending "now: no answer"', { timeout: 90_000 }, async () => {
    const key = 'sk-resend-test-key-0123456789';
    // A server behind a key, as LiteLLM is: without it, initialize gets a 500.
    const inner = streamableHandler();
    const keyed = await startRawHttpServer((req, res) => {
      if (req.headers['x-litellm-api-key'] !== key) return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"no key"}');
      void inner.handle(req, res);
    });
    peers.push({ ...keyed, close: async () => { await inner.closeAll(); await keyed.close(); } });
    const proxy = await startProxy({ target: keyed.url, port: 0, db: tmp.db, label: 'orig-keyed', onWarning: () => {} });
    try {
      const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'resend-test', headers: { 'x-litellm-api-key': key } });
      await c.client.callTool({ name: 'echo', arguments: { message: 'hello' } });
      await c.close();
    } finally {
      await proxy.close();
    }
    const id = withStore((s) => s.listSessions().find((x) => x.label === 'orig-keyed')!.id);
    const before = withStore((s) => s.listSessions().length);
    const r = await run(['resend', id, String(echoSeq(id))]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`mcptap: the handshake failed: initialize answered HTTP 500 at ${keyed.url}, so no session started and nothing after it was sent; the recorded x-litellm-api-key was redacted and is not sent again: give it with --header 'x-litellm-api-key: …'`);
    expect(withStore((s) => s.listSessions().length)).toBe(before);
    // With the key, the same resend goes through.
    const ok = await run(['resend', id, String(echoSeq(id)), '--header', `x-litellm-api-key: ${key}`]);
    expect(ok.stdout).toContain('the answer is the same');
  });

  it('leaves no session behind when it cannot reach its target', { timeout: 90_000 }, async () => {
    const id = await capture('streamable-http', peers[0], 'orig-down');
    const before = withStore((s) => s.listSessions().length);
    const down = await run(['resend', id, String(echoSeq(id)), '--target', 'http://127.0.0.1:9']);
    expect(down.status).toBe(2);
    expect(down.stderr).toMatch(/mcptap: cannot reach http:\/\/127\.0\.0\.1:9: ECONNREFUSED/);
    expect(withStore((s) => s.listSessions().length)).toBe(before);
  });

  for (const [kind, i] of [['streamable-http', 0], ['sse', 1]] as const) {
    it(`sends one request again over ${kind} after the recorded handshake, as a new session linked by its label`, { timeout: 90_000 }, async () => {
      const id = await capture(kind, peers[i], `orig-${kind}`);
      const seq = echoSeq(id);
      const r = await run(['resend', id.slice(0, 6), String(seq)]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const resent = /as session (\w+)/.exec(r.stdout)![1];
      expect(r.stdout).toContain(`resent #${seq} tools/call of ${id} to ${peers[i].url} as session ${resent}`);
      expect(r.stdout.match(/Echo: hello/g)!.length).toBeGreaterThanOrEqual(2);
      expect(r.stdout).toContain('the answer is the same');
      const [was, now] = withStore((s) => [s.messages(id), s.messages(resent)] as const);
      expect(withStore((s) => s.getSession(resent)!.label)).toBe(`resend of ${id} #${seq}`);
      const sent = now.filter((m) => m.direction === 'client->server' && (m.kind === 'request' || m.kind === 'notification')).map((m) => m.method);
      expect(sent).toEqual(['initialize', 'notifications/initialized', 'tools/call']);
      const params = (ms: typeof was) => JSON.parse(ms.find((m) => m.method === 'initialize' && m.kind === 'request')!.payload).params;
      expect(params(now)).toEqual(params(was));
      // Listed by what it points to, not cut to "resend of …".
      expect((await run(['sessions'])).stdout).toContain(`↻${id.slice(0, 6)}`);
    });
  }

  it('--edit sends what the editor saved, and shows the answer beside the original with the differences', { timeout: 90_000 }, async () => {
    const id = await capture('streamable-http', peers[0], 'orig-edit');
    const editor = path.join(tmp.dir, 'editor.sh');
    fs.writeFileSync(editor, '#!/bin/sh\nsed -i "s/hello/edited/" "$1"\n', { mode: 0o755 });
    const r = await run(['resend', id, String(echoSeq(id)), '--edit'], { EDITOR: editor, VISUAL: '' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('(edited)');
    expect(r.stdout).toMatch(/original answer #\d+\n[^]*Echo: hello[^]*answer now #\d+\n[^]*Echo: edited/);
    expect(r.stdout).toContain('the answer differs (1):\n  result.content[0].text: "Echo: hello" → "Echo: edited"');
  });

  it('refuses a message the client did not send, and an edit that is not JSON, with one line and exit 2', { timeout: 90_000 }, async () => {
    const id = await capture('streamable-http', peers[0], 'orig-bad');
    const response = withStore((s) => s.messages(id).find((m) => m.kind === 'response' && m.method === 'tools/call')!);
    const r = await run(['resend', id, String(response.seq)]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`mcptap: #${response.seq} is a server response, not a request or notification the client sent; the request it answers is #${response.correlatedSeq}\n`);
    const editor = path.join(tmp.dir, 'break.sh');
    fs.writeFileSync(editor, '#!/bin/sh\necho "{ not json" > "$1"\n', { mode: 0o755 });
    const bad = await run(['resend', id, String(echoSeq(id)), '--edit'], { EDITOR: editor, VISUAL: '' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^mcptap: the edited message is not JSON: /);
  });
});
