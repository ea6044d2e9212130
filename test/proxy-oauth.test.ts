import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { parseTarget } from '../src/proxy/target.js';
import { proxiedChallenge, proxiedResourceMetadata } from '../src/proxy/oauth-rewrite.js';
import { CaptureStore } from '../src/store/read.js';
import { runChecks, type Finding } from '../src/analysis/checks/engine.js';
import { startOAuthServer, TestOAuthClient, type OAuthPeer } from './helpers/oauth.js';
import { startRawHttpServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// OAuth through the proxy, with the SDK's own authorization server, resource-server middleware and
// client auth: the login a Claude Code user runs against an OAuth-protected MCP server or gateway.

const tmp = tempDb();
const peers: Array<Peer | OAuthPeer> = [];
afterAll(async () => {
  for (const p of peers) await p.close();
  tmp.cleanup();
});

/** Connects through the proxy the way Claude Code does: the first attempt starts the login, the second uses the token. */
async function login(proxy: RunningProxy, auth: TestOAuthClient): Promise<Client> {
  const url = new URL(proxy.url + '/mcp');
  const first = new StreamableHTTPClientTransport(url, { authProvider: auth });
  await expect(new Client({ name: 'claude-code', version: '2.1.0' }).connect(first)).rejects.toThrow(UnauthorizedError);
  expect(auth.code).toBeTruthy();
  await first.finishAuth(auth.code!);
  const client = new Client({ name: 'claude-code', version: '2.1.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: auth }));
  return client;
}

function findings(db: string, label: string): Finding[] {
  const store = CaptureStore.open(db, { readonly: true });
  try {
    return store.listSessions().filter((s) => s.label === label)
      .flatMap((session) => runChecks({ session, messages: store.messages(session.id), exchanges: store.exchanges(session.id) }));
  } finally {
    store.close();
  }
}

describe('OAuth through the proxy', () => {
  it('logs in: the challenge and the metadata name the proxy, the whole login is on the record, no token is stored', async () => {
    const server = await startOAuthServer();
    peers.push(server);
    const db = path.join(tmp.dir, 'oauth.db');
    const proxy = await startProxy({ target: server.url, port: 0, db, label: 'oauth', onWarning: () => {} });
    try {
      const client = await login(proxy, new TestOAuthClient());
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
      expect(await client.callTool({ name: 'echo', arguments: { message: 'through oauth' } })).toMatchObject({ content: [{ type: 'text', text: 'through oauth' }] });
      await client.close();
      await proxy.flush();
    } finally {
      await proxy.close();
    }
    expect(server.issued()).toHaveLength(1);

    let challengedSession = '';
    const store = CaptureStore.open(db, { readonly: true });
    try {
      // The 401, the metadata fetched after it, and the attempt after the login.
      const sessions = store.listSessions().filter((s) => s.label === 'oauth');
      const exchanges = sessions.flatMap((s) => store.exchanges(s.id));
      const challenged = exchanges.find((e) => e.status === 401)!;
      challengedSession = challenged.sessionId!;
      expect(challenged.rewrites).toEqual([{ kind: 'oauth-challenge', before: `${server.url}/.well-known/oauth-protected-resource/mcp`, after: `${proxy.url}/.well-known/oauth-protected-resource/mcp` }]);
      const metadata = exchanges.find((e) => e.url === '/.well-known/oauth-protected-resource/mcp')!;
      expect(metadata.status).toBe(200);
      // Stored as the server sent it; what the client got instead is the recorded rewrite.
      expect(JSON.parse(metadata.responseBody!).resource).toBe(server.endpoint);
      expect(metadata.rewrites).toEqual([{ kind: 'oauth-resource', before: server.endpoint, after: `${proxy.url}/mcp` }]);
      // Discovery belongs to the session whose 401 sent the client there.
      expect(metadata.sessionId).toBe(challenged.sessionId);
      const authorized = exchanges.filter((e) => e.status === 200 && e.requestHeaders.some(([k]) => k.toLowerCase() === 'authorization'));
      expect(authorized.length).toBeGreaterThan(0);
      for (const e of authorized) expect(e.requestHeaders.find(([k]) => k.toLowerCase() === 'authorization')![1]).toMatch(/^Bearer [^ ]{3}…[^ ]{4}$|^Bearer \[redacted/);
    } finally {
      store.close();
    }
    const bytes = Buffer.concat(['', '-wal'].filter((s) => fs.existsSync(db + s)).map((s) => fs.readFileSync(db + s)));
    for (const token of server.issued()) expect(bytes.includes(Buffer.from(token))).toBe(false);

    // The refused initialize says why in `mcptap show`: it has no JSON-RPC answer, only the 401.
    const shown = spawnSync(process.execPath, [path.resolve('dist/src/cli/main.js'), 'show', challengedSession, '--db', db], { encoding: 'utf8' });
    expect(shown.stdout).toMatch(/→ request +initialize +0 +HTTP 401/);
    const fs1 = findings(db, 'oauth');
    // The first 401 started a login (told as such), and that login worked: no auth failure.
    expect(fs1.filter((f) => f.ruleId === 'auth')).toEqual([expect.objectContaining({ severity: 'info', title: 'POST /mcp answered 401 and the client started an OAuth login (it fetched /.well-known/oauth-protected-resource/mcp)' })]);
    // The rewrites are the OAuth rule's to tell, not the legacy endpoint rule's.
    expect(fs1.filter((f) => f.ruleId === 'endpoint-rewrite')).toEqual([]);
    expect(fs1.filter((f) => f.ruleId === 'oauth-resource')).toEqual([expect.objectContaining({ severity: 'info', title: `mcptap moved the OAuth resource ${server.endpoint} to ${proxy.url}/mcp, the URL the client connected to` })]);
    expect(fs1.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('names a metadata resource the client cannot accept (a public URL behind a tunnel), which stops the login', async () => {
    const server = await startOAuthServer({ resource: () => 'https://mcp.example.com/mcp' });
    peers.push(server);
    const db = path.join(tmp.dir, 'oauth-foreign.db');
    const proxy = await startProxy({ target: server.url, port: 0, db, label: 'foreign', onWarning: () => {} });
    try {
      const transport = new StreamableHTTPClientTransport(new URL(proxy.url + '/mcp'), { authProvider: new TestOAuthClient() });
      await expect(new Client({ name: 'claude-code', version: '2.1.0' }).connect(transport)).rejects.toThrow(/Protected resource https:\/\/mcp\.example\.com\/mcp does not match expected/);
      await proxy.flush();
    } finally {
      await proxy.close();
    }
    const fs2 = findings(db, 'foreign').filter((f) => f.ruleId === 'oauth-resource');
    expect(fs2).toEqual([expect.objectContaining({ severity: 'error', title: `OAuth metadata names the resource https://mcp.example.com/mcp, not ${proxy.url}/mcp, the URL the client connected to` })]);
    expect(fs2[0].fix).toContain(`claude mcp add --transport http <name> ${proxy.url}/mcp --header "Authorization: Bearer <token>"`);
  });

  it('logs in with a server that is its own authorization server and publishes no resource metadata (the fallback)', async () => {
    const server = await startOAuthServer({ ownAuthorizationServer: true });
    peers.push(server);
    const db = path.join(tmp.dir, 'oauth-own.db');
    const proxy = await startProxy({ target: server.url, port: 0, db, label: 'own', onWarning: () => {} });
    try {
      const client = await login(proxy, new TestOAuthClient());
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
      await client.close();
      await proxy.flush();
    } finally {
      await proxy.close();
    }
    const fs3 = findings(db, 'own');
    // The metadata misses before the fallback found the authorization server are not a problem.
    expect(fs3.filter((f) => f.severity !== 'info')).toEqual([]);
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const urls = store.listSessions().filter((s) => s.label === 'own').flatMap((s) => store.exchanges(s.id)).map((e) => `${e.url} ${e.status}`);
      expect(urls).toEqual(expect.arrayContaining(['/.well-known/oauth-protected-resource/mcp 404', '/.well-known/oauth-authorization-server 200']));
    } finally {
      store.close();
    }
  });

  it('tells why a server that checks the token audience refuses the token the login through the proxy got', async () => {
    const server = await startOAuthServer({ strictAudience: true });
    peers.push(server);
    const db = path.join(tmp.dir, 'oauth-strict.db');
    const proxy = await startProxy({ target: server.url, port: 0, db, label: 'strict', onWarning: () => {} });
    try {
      await expect(login(proxy, new TestOAuthClient())).rejects.toThrow(UnauthorizedError);
      await proxy.flush();
    } finally {
      await proxy.close();
    }
    const f = findings(db, 'strict').filter((x) => x.ruleId === 'oauth-resource' && x.severity === 'warning');
    expect(f).toEqual([expect.objectContaining({ title: `a token for ${proxy.url}/mcp was refused: the server may require its own URL, ${server.endpoint}, as the token's audience` })]);
    expect(f[0].fix).toContain(`claude mcp add --transport http <name> ${server.endpoint}`);
  });

  it('changes only the resource value and the length, and leaves big or foreign documents alone', async () => {
    // Byte for byte: spacing, key order, escaped slashes and unknown members stay as the server wrote them.
    const doc = '{ "resource" : "http:\\/\\/127.0.0.1:4000\\/mcp",\n  "authorization_servers": ["http://127.0.0.1:4000"], "x": {"resource": "other"} }';
    const upstream = await startRawHttpServer((req, res) => {
      if (req.url === '/.well-known/oauth-protected-resource/mcp') {
        res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"' });
        return void res.end(doc.replace(/127\.0\.0\.1:4000/g, `127.0.0.1:${upstream.port}`));
      }
      if (req.url === '/.well-known/oauth-protected-resource/big') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ resource: `http://127.0.0.1:${upstream.port}/big`, pad: 'x'.repeat(70_000) }));
      }
      res.writeHead(401, { 'www-authenticate': `Bearer error="invalid_token", resource_metadata="https://elsewhere.example/.well-known/oauth-protected-resource"` }).end();
    });
    peers.push(upstream);
    const proxy = await startProxy({ target: upstream.url, port: 0, db: null, onWarning: () => {} });
    try {
      const r = await fetch(proxy.url + '/.well-known/oauth-protected-resource/mcp');
      const body = await r.text();
      expect(body).toBe(doc.replace('http:\\/\\/127.0.0.1:4000\\/mcp', `${proxy.url}/mcp`.replace(/\//g, '/')).replace(/127\.0\.0\.1:4000/g, `127.0.0.1:${upstream.port}`));
      expect(r.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
      expect(r.headers.get('etag')).toBeNull();
      const big = await fetch(proxy.url + '/.well-known/oauth-protected-resource/big').then((x) => x.json() as Promise<{ resource: string }>);
      expect(big.resource).toBe(`http://127.0.0.1:${upstream.port}/big`);
      const foreign = await fetch(proxy.url + '/mcp', { method: 'POST' });
      expect(foreign.status).toBe(401);
      expect(foreign.headers.get('www-authenticate')).toContain('resource_metadata="https://elsewhere.example/.well-known/oauth-protected-resource"');
    } finally {
      await proxy.close();
    }
    const target = parseTarget('http://127.0.0.1:4000/gw');
    expect(proxiedChallenge(target, 'Bearer realm="x", resource_metadata="http://127.0.0.1:4000/gw/.well-known/oauth-protected-resource"', 'http://127.0.0.1:8808'))
      .toEqual({ value: 'Bearer realm="x", resource_metadata="http://127.0.0.1:8808/.well-known/oauth-protected-resource"', from: 'http://127.0.0.1:4000/gw/.well-known/oauth-protected-resource', to: 'http://127.0.0.1:8808/.well-known/oauth-protected-resource' });
    expect(proxiedChallenge(target, 'Bearer resource_metadata="http://127.0.0.1:4000/other"', 'http://127.0.0.1:8808')).toBeNull();
    expect(proxiedResourceMetadata(target, Buffer.from('not json'), 'http://127.0.0.1:8808')).toBeNull();
    expect(proxiedResourceMetadata(target, Buffer.from('{"resource": 5}'), 'http://127.0.0.1:8808')).toBeNull();
  });
});
