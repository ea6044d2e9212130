import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewriteText } from '../src/model/facts.js';
import http from 'node:http';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { AddressInfo } from 'node:net';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { tempDb } from './helpers/tmp.js';

// Secrets, a database that refuses writes, and the CLI's answers to bad input.

const SECRET = 'sk-live-4f9c2d7e8a1b3c5d6e7f8091a2b3c4d5';
const tmp = tempDb();
let upstream: http.Server;
let upstreamUrl: string;

function rpcServer(): http.Server {
  return http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const msg = JSON.parse(body);
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'sess-' + (req.headers['x-n'] ?? '0'), 'set-cookie': `sid=${SECRET}; Path=/` });
      // A server that echoes what it got: the key comes back in the body too.
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { echoed: req.headers.authorization, apiKey: SECRET } }));
    });
  });
}

function post(url: string, headers: Record<string, string>, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

beforeAll(async () => {
  upstream = rpcServer();
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  tmp.cleanup();
});

describe('redaction', () => {
  it('never writes the secret to the database file, and keeps a fingerprint', async () => {
    const db = path.join(tmp.dir, 'redact.db');
    const proxy = await startProxy({ target: upstreamUrl, port: 0, db, onWarning: () => {} });
    try {
      const status = await post(proxy.url + '/mcp?api_key=' + SECRET, { authorization: `Bearer ${SECRET}`, 'x-litellm-api-key': SECRET, 'x-n': '1' }, {
        jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'login', arguments: { password: 'hunter2-hunter2', token: SECRET } },
      });
      expect(status).toBe(200);
    } finally {
      await proxy.close();
    }
    const bytes = Buffer.concat(['', '-wal', '-shm'].filter((s) => fs.existsSync(db + s)).map((s) => fs.readFileSync(db + s)));
    expect(bytes.includes(Buffer.from(SECRET))).toBe(false);
    expect(bytes.includes(Buffer.from('hunter2-hunter2'))).toBe(false);
    expect(fs.statSync(db).mode & 0o777).toBe(0o600);
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const [session] = store.listSessions();
      const [ex] = store.exchanges(session.id);
      const auth = ex.requestHeaders.find(([k]) => k.toLowerCase() === 'authorization')![1];
      // Only the last four characters and a hash keyed by the database: the same secret, the same fingerprint.
      expect(auth).toMatch(/^Bearer \[redacted:[0-9a-f]{8}…c4d5\]$/);
      expect(ex.url).not.toContain(SECRET);
      const msgs = store.messages(session.id);
      expect(msgs).toHaveLength(2);
      expect(msgs[1].payload).toContain(auth.slice('Bearer '.length));
    } finally {
      store.close();
    }
  });

  it('redacts the code and token in a redirect\'s Location, and in the before/after URLs of its rewrite', async () => {
    const code = 'SplxlOBeZQQYbYS6WxSbIAredirect';
    const token = 'tk-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d';
    const redirects = http.createServer((req, res) => {
      req.resume();
      // Back to the upstream's own origin (the proxy rewrites it to itself), and to another site.
      const own = `http://127.0.0.1:${(redirects.address() as AddressInfo).port}/callback?code=${code}&state=s1`;
      res.writeHead(302, { location: req.url === '/own' ? own : `https://example.com/done?token=${token}` }).end();
    });
    await new Promise<void>((r) => redirects.listen(0, '127.0.0.1', r));
    const db = path.join(tmp.dir, 'location.db');
    const proxy = await startProxy({ target: `http://127.0.0.1:${(redirects.address() as AddressInfo).port}`, port: 0, db, onWarning: () => {} });
    const location = (p: string) => new Promise<string>((resolve, reject) => {
      http.get(proxy.url + p, (res) => {
        res.resume();
        resolve(String(res.headers.location));
      }).on('error', reject);
    });
    try {
      // The client gets the URLs whole: only the record is redacted.
      expect(await location('/own')).toBe(`${proxy.url}/callback?code=${code}&state=s1`);
      expect(await location('/away')).toBe(`https://example.com/done?token=${token}`);
      await proxy.flush();
    } finally {
      await proxy.close();
      await new Promise((r) => redirects.close(r));
    }
    const bytes = Buffer.concat(['', '-wal', '-shm'].filter((s) => fs.existsSync(db + s)).map((s) => fs.readFileSync(db + s)));
    expect(bytes.includes(Buffer.from(code))).toBe(false);
    expect(bytes.includes(Buffer.from(token))).toBe(false);
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const exchanges = store.listSessions().flatMap((x) => store.exchanges(x.id));
      const own = exchanges.find((e) => e.url === '/own')!;
      // A fingerprint of the code (a keyed hash and its last four characters) stands in for it.
      expect(own.rewrites.map((r) => r.kind)).toEqual(['location']);
      expect(rewriteText(own.rewrites[0])).toMatch(/^location http:\/\/127\.0\.0\.1:\d+\/callback\?code=\[redacted:[0-9a-f]{8}…rect\]&state=s1 → http:\/\/127\.0\.0\.1:\d+\/callback\?code=\[redacted:[0-9a-f]{8}…rect\]&state=s1$/);
      expect(own.responseHeaders!.find(([k]) => k === 'location')![1]).toMatch(/\/callback\?code=\[redacted:[0-9a-f]{8}…rect\]&state=s1$/);
      const away = exchanges.find((e) => e.url === '/away')!;
      expect(away.responseHeaders!.find(([k]) => k === 'location')![1]).toMatch(/^https:\/\/example\.com\/done\?token=\[redacted:[0-9a-f]{8}…5c4d\]$/);
    } finally {
      store.close();
    }
  });

  it('scrubs an OAuth token request (form-encoded) and its answer: code, PKCE verifier, client secret, tokens', async () => {
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const clientSecret = 'cs-7d1f0c2b9e4a4f6b8c3d2e1f0a9b8c7d';
    const code = 'SplxlOBeZQQYbYS6WxSbIAcode';
    const access = 'at-0f1e2d3c4b5a69788796a5b4c3d2e1f0';
    const tokenServer = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: access, token_type: 'bearer', refresh_token: 'rt-' + access, expires_in: 3600 }));
      });
    });
    await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', r));
    const db = path.join(tmp.dir, 'token.db');
    const proxy = await startProxy({ target: `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}`, port: 0, db, onWarning: () => {} });
    try {
      const form = new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: 'mcptap-test', client_secret: clientSecret, redirect_uri: 'http://127.0.0.1:9/callback' });
      const r = await fetch(proxy.url + '/token', { method: 'POST', body: form });
      expect(((await r.json()) as { access_token: string }).access_token).toBe(access);
    } finally {
      await proxy.close();
      tokenServer.closeAllConnections();
      await new Promise((r) => tokenServer.close(r));
    }
    const bytes = Buffer.concat(['', '-wal'].filter((s) => fs.existsSync(db + s)).map((s) => fs.readFileSync(db + s)));
    for (const secret of [verifier, clientSecret, code, access]) expect(bytes.includes(Buffer.from(secret)), secret).toBe(false);
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const [ex] = store.exchanges(store.listSessions()[0].id);
      // What is not secret stays readable: the grant type, the client id, the redirect URI.
      expect(ex.requestBody).toMatch(/^grant_type=authorization_code&code=\[redacted:[0-9a-f]{8}…code\]&code_verifier=\[redacted:[0-9a-f]{8}…EjXk\]&client_id=mcptap-test&/);
      expect(ex.requestBody).toContain('redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback');
      expect(JSON.parse(ex.responseBody!)).toMatchObject({ access_token: expect.stringMatching(/^\[redacted:[0-9a-f]{8}…e1f0\]$/), token_type: 'bearer', expires_in: 3600 });
    } finally {
      store.close();
    }
  });

  it('remembers the newest secrets to scrub from bodies, not every secret it ever saw', async () => {
    // A load balancer's cookie changes with every response (AWS ALB's AWSALB). Every payload is searched
    // for each remembered secret: remembering them all grew the proxy and slowed each message per request.
    const alb = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'alb', 'set-cookie': `AWSALB=${randomBytes(24).toString('hex')}; Path=/` });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(body).id, result: { echo: req.headers.cookie ?? null } }));
      });
    });
    await new Promise<void>((r) => alb.listen(0, '127.0.0.1', r));
    const db = path.join(tmp.dir, 'alb.db');
    const proxy = await startProxy({ target: `http://127.0.0.1:${(alb.address() as AddressInfo).port}`, port: 0, db, onWarning: () => {} });
    let cookie = '';
    try {
      for (let i = 1; i <= 1000; i++) {
        cookie = await new Promise<string>((resolve, reject) => {
          const req = http.request(proxy.url + '/mcp', { method: 'POST', headers: { 'content-type': 'application/json', 'mcp-session-id': 'alb', ...(cookie ? { cookie } : {}) } }, (res) => {
            res.resume();
            res.on('end', () => resolve(String(res.headers['set-cookie']![0]).split(';')[0]));
          });
          req.on('error', reject);
          req.end(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'ping' }));
        });
      }
      await proxy.flush();
      expect(proxy.engine.redactor.remembered).toBeLessThanOrEqual(64);
    } finally {
      await proxy.close();
      alb.closeAllConnections();
      await new Promise((r) => alb.close(r));
    }
    // The newest cookies are still scrubbed where the server echoed them.
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const [session] = store.listSessions().filter((x) => x.mcpSessionId === 'alb');
      const last = store.messages(session.id).at(-1)!;
      // Echoed under a name that says nothing: only the memory of the cookie scrubs it.
      expect(last.payload).toContain('"echo":"AWSALB=');
      expect(last.payload).not.toContain(cookie.split('=')[1].slice(0, 20));
    } finally {
      store.close();
    }
  });

  it('stores secrets as sent with --no-redact', async () => {
    const db = path.join(tmp.dir, 'plain.db');
    const proxy = await startProxy({ target: upstreamUrl, port: 0, db, redact: false, onWarning: () => {} });
    try {
      await post(proxy.url + '/mcp', { authorization: `Bearer ${SECRET}` }, { jsonrpc: '2.0', id: 1, method: 'ping' });
    } finally {
      await proxy.close();
    }
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const [session] = store.listSessions();
      expect(store.exchanges(session.id)[0].requestHeaders).toContainEqual(['authorization', `Bearer ${SECRET}`]);
    } finally {
      store.close();
    }
  });
});

describe('a failing database', () => {
  it('keeps traffic flowing while the database is locked, warns once, and writes the backlog later', async () => {
    const db = path.join(tmp.dir, 'locked.db');
    const warnings: string[] = [];
    const proxy = await startProxy({ target: upstreamUrl, port: 0, db, onWarning: (m) => warnings.push(m) });
    const locker = new Database(db);
    try {
      locker.prepare('BEGIN EXCLUSIVE').run();
      for (let i = 0; i < 20; i++) {
        expect(await post(proxy.url + '/mcp', { 'x-n': String(i) }, { jsonrpc: '2.0', id: i, method: 'ping' })).toBe(200);
      }
      await proxy.flush();
      expect(proxy.stats().writeFailures).toBeGreaterThan(0);
      expect(warnings.filter((w) => w.includes('write failed'))).toHaveLength(1);
      locker.prepare('COMMIT').run();
      await proxy.flush();
      expect(proxy.stats().pendingWrites).toBe(0);
    } finally {
      locker.close();
      await proxy.close();
    }
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const sessions = store.listSessions();
      expect(sessions).toHaveLength(20);
      expect(sessions.reduce((n, s) => n + store.countMessages(s.id), 0)).toBe(40);
    } finally {
      store.close();
    }
  });
});

describe('a database that never recovers', () => {
  it('leaves what it could not write in a file beside it, redacted, and import puts it back', async () => {
    const db = path.join(tmp.dir, 'never.db');
    const warnings: string[] = [];
    const proxy = await startProxy({ target: upstreamUrl, port: 0, db, onWarning: (m) => warnings.push(m) });
    const locker = new Database(db);
    locker.prepare('BEGIN EXCLUSIVE').run();
    try {
      for (let i = 0; i < 10; i++) {
        expect(await post(proxy.url + '/mcp', { 'x-n': `never-${i}`, authorization: `Bearer ${SECRET}` }, { jsonrpc: '2.0', id: i, method: 'ping' })).toBe(200);
      }
      // Still locked at shutdown: the last write fails too.
      await proxy.close();
    } finally {
      locker.prepare('ROLLBACK').run();
      locker.close();
    }
    const line = warnings.find((w) => w.includes('mcptap import'));
    expect(line, warnings.join('\n')).toBeDefined();
    const rescue = /they are in (\S+)/.exec(line!)![1];
    expect(fs.statSync(rescue).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(rescue, 'utf8')).not.toContain(SECRET);

    const r = spawnSync(process.execPath, [path.resolve('dist/src/cli/main.js'), 'import', rescue, '--db', db], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^put back 20 messages, 10 exchanges and \d+ session records/);
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const sessions = store.listSessions().filter((x) => x.mcpSessionId?.startsWith('sess-never-'));
      expect(sessions).toHaveLength(10);
      expect(sessions.map((x) => store.messages(x.id).map((m) => m.method))).toEqual(Array(10).fill(['ping', 'ping']));
    } finally {
      store.close();
    }
  });
});

describe('CLI bad input', () => {
  const cli = path.resolve('dist/src/cli/main.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, MCPTAP_DB: path.join(tmp.dir, 'cli.db'), MCPTAP_ROUTES: path.join(tmp.dir, 'no-routes.json') }, timeout: 60_000 });

  it.each([
    [['proxy', '--target', 'not a url'], /not a URL/],
    [['proxy', '--target', 'ftp://example.com'], /http:\/\/ or https:\/\//],
    [['proxy', '--target', 'http://127.0.0.1:1', '--port', '99999'], /--port must be/],
    [['proxy', '--target', 'http://127.0.0.1:1', '--db', '/proc/nope/captures.db'], /cannot create database/],
    [['show', 'zzzz'], /no capture database|no session/],
    [['sessions', '--db', '/nonexistent/dir/x.db'], /no capture database/],
    [['nosuch'], /^mcptap: unknown command 'nosuch' \(see --help\)/],
    [['proxy'], /^mcptap: no --target, and no routes at \S+no-routes\.json: give --target URL, or run mcptap claude install first$/m],
  ])('%j → one line, exit 2', (args, pattern) => {
    const r = run(...(args as string[]));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('port in use → one line, exit 2', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const port = String((busy.address() as AddressInfo).port);
      const r = run('proxy', '--target', upstreamUrl, '--port', port);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/already in use/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });
});
