import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { connectClient, listen, startStreamableServer, type Peer } from './helpers/peers.js';
import { readRun, replayHandler, sendRecorded } from './helpers/claude-fixtures.js';
import { tempDb } from './helpers/tmp.js';

// Real traffic carrying the secret shapes of issue 20 through the real proxy and `mcptap wrap` (an SDK client
// and server over Streamable HTTP, a stdio server, Claude Code's recorded model requests, an OAuth token
// exchange), then every file and output a user could paste is searched for each secret: none may be there.
// Every secret is made up for this test.

const S = {
  bearer: 'corpus-bearer-token-0001',
  aliasAuth: 'corpus-alias-auth-0002',
  mcpAuth: 'corpus-x-mcp-auth-0003',
  apiKeyHeader: 'sk-ant-api03-corpusHeaderKey0004abcdefghij',
  pathKey: 'Cq7Rk2Lm9Np4Xz8Tb3Wd6Yf0',
  queryToken: 'corpus-query-token-0005',
  argPassword: '55443322',
  authorizationToken: 'corpus-authz-token-0006',
  envToken: 'corpus-env-style-0007',
  apiKeyEnv: 'corpus-api-key-env-0008',
  secretEnv: 'corpus-app-secret-0009',
  innerAccess: 'corpus-inner-access-0010',
  urlPassword: 'corpus-url-pw-0011',
  skKey: 'sk-proj-corpusOpenAiKey0012abcdefgh',
  ghp: 'ghp_corpus0013ABCDEFGHIJKLMNOPQRSTUVWXYZab',
  gho: 'gho_corpus0014ABCDEFGHIJKLMNOPQRSTUVWXYZab',
  ghs: 'ghs_corpus0015ABCDEFGHIJKLMNOPQRSTUVWXYZab',
  githubPat: 'github_pat_corpus0016_ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  xoxb: 'xoxb-0017000000-0017000000-corpusSlackBot',
  xoxp: 'xoxp-0018000000-0018000000-corpusSlackUsr',
  akia: 'AKIACORPUS0019EXAMPL',
  jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJjb3JwdXMiOiIwMDIwIn0.corpusJwtSignature0020xyz',
  flagPat: 'corpus-flag-pat-0021',
  flagAuth: 'corpus-flag-auth-0022',
  flagToken: 'corpus-flag-token-0023',
  connPassword: 'corpus-conn-pw-0024',
  dbUrlPassword: 'corpus-dburl-pw-0025',
  stdioEnvToken: 'corpus-stdio-env-0026',
  modelKey: 'sk-ant-api03-corpusModelKey0027abcdefghij',
  mcpServerToken: 'corpus-mcp-servers-0028',
  oauthCode: 'corpusOAuthCode0029xyzXYZ',
  codeVerifier: 'corpus-code-verifier-0030-abcdefghijklmnop',
  clientSecret: 'corpus-client-secret-0031',
  accessToken: 'corpus-access-token-0032',
  refreshToken: 'corpus-refresh-token-0033',
  fragmentToken: 'corpus-fragment-token-0034',
  everythingSecret: 'corpus-everything-secret-0035',
  everythingNeutral: 'ghu_corpus0036ABCDEFGHIJKLMNOPQRSTUVWXYZab',
  clientInfoKey: 'sk-corpusClientInfo0037abcdefgh',
  connectorPathKey: 'Mk4Ns8Pq2Rt6Vw0Xy3Za5Bc7',
};

const tmp = tempDb('corpus.db');
const cli = path.resolve('dist/src/cli/main.js');
const stdioServer = path.resolve('dist/test/helpers/stdio-server.js');
const everythingBin = path.resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const upstreams: Array<{ close(): Promise<void> }> = [];

/** An MCP server whose tool hands back secrets the ways real servers do (server-everything's get-env, a DSN). */
const leakyServer = () => {
  const server = new McpServer({ name: 'leaky', version: '1.0.0' });
  server.registerTool('configure', { description: 'Takes a configuration', inputSchema: { config: z.record(z.string(), z.unknown()) } }, async () => ({
    content: [
      { type: 'text' as const, text: JSON.stringify({ access_token: S.innerAccess, token_type: 'bearer', env: { GITHUB_PERSONAL_ACCESS_TOKEN: S.envToken, OPENAI_API_KEY: S.apiKeyEnv, APP_SECRET: S.secretEnv } }) },
      { type: 'text' as const, text: `connected to postgres://app:${S.urlPassword}@db.internal:5432/app` },
      { type: 'text' as const, text: `keys: ${S.skKey} ${S.ghp} ${S.gho} ${S.ghs} ${S.githubPat} ${S.xoxb} ${S.xoxp} ${S.akia} ${S.jwt}` },
    ],
  }));
  return { server };
};

function cliRun(...args: string[]): string {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  return `${r.stdout}\n${r.stderr}`;
}

function sessionList(): Array<{ id: string; label: string | null }> {
  const r = spawnSync(process.execPath, [cli, 'sessions', '--db', tmp.db, '--json'], { encoding: 'utf8' });
  return JSON.parse(r.stdout) as Array<{ id: string; label: string | null }>;
}

function leaks(text: string | Buffer): string[] {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  return Object.entries(S).filter(([, v]) => buf.includes(Buffer.from(v))).map(([k]) => k);
}

beforeAll(async () => {
  // 1. An SDK client and server over Streamable HTTP, with a key in the URL path and secret headers.
  const peer: Peer = await startStreamableServer({ factory: leakyServer, path: `/api/mcp/${S.pathKey}/mcp` });
  upstreams.push(peer);
  const proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, label: 'sdk', onWarning: () => {} });
  try {
    const c = await connectClient('streamable-http', `${proxy.url}/api/mcp/${S.pathKey}/mcp?token=${S.queryToken}`, {
      // A client that put a key in its name: the session's clientInfo is stored apart from the messages.
      name: `corpus ${S.clientInfoKey}`,
      headers: { authorization: `Bearer ${S.bearer}`, 'x-mcp-github-authorization': `Bearer ${S.aliasAuth}`, 'x-mcp-auth': S.mcpAuth, 'x-api-key': S.apiKeyHeader },
    });
    await c.client.callTool({ name: 'configure', arguments: { config: { password: Number(S.argPassword), authorization_token: S.authorizationToken, region: 'eu', max_tokens: 100 } } });
    await c.close();
  } finally {
    await proxy.close();
  }

  // 2. Claude Code's recorded model requests, with a real-looking key and an MCP connector's token.
  const model = readRun('echo-http', 'model');
  const replay = http.createServer(replayHandler(model, []));
  const replayPeer = await listen(replay);
  upstreams.push(replayPeer);
  const mproxy = await startProxy({ target: `http://127.0.0.1:${replayPeer.port}`, port: 0, db: tmp.db, label: 'model', onWarning: () => {} });
  try {
    for (const ex of model) {
      const body = JSON.parse(ex.requestBody) as Record<string, unknown>;
      body.mcp_servers = [{ type: 'url', url: `https://mcp.example.com/api/mcp/${S.connectorPathKey}/mcp`, name: 'example', authorization_token: S.mcpServerToken }];
      const r = await sendRecorded(mproxy.url, { ...ex, requestHeaders: { ...ex.requestHeaders, 'x-api-key': S.modelKey }, requestBody: JSON.stringify(body) });
      expect(r.status).toBe(200);
    }
  } finally {
    await mproxy.close();
  }

  // 3. An OAuth token exchange with a JSON body, and the implicit flow's redirect with a token in its fragment.
  const oauth = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/authorize') return void res.writeHead(302, { location: `https://app.example/cb#access_token=${S.fragmentToken}&token_type=bearer` }).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: S.accessToken, refresh_token: S.refreshToken, id_token: S.jwt, token_type: 'bearer', expires_in: 3600 }));
    });
  });
  const oauthPeer = await listen(oauth);
  upstreams.push(oauthPeer);
  const oproxy = await startProxy({ target: `http://127.0.0.1:${oauthPeer.port}`, port: 0, db: tmp.db, label: 'oauth', onWarning: () => {} });
  try {
    const t = await fetch(`${oproxy.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'authorization_code', code: S.oauthCode, code_verifier: S.codeVerifier, client_id: 'corpus', client_secret: S.clientSecret }) });
    expect(t.status).toBe(200);
    await t.text();
    const a = await fetch(`${oproxy.url}/authorize`, { redirect: 'manual' });
    expect(a.status).toBe(302);
    await a.text();
  } finally {
    await oproxy.close();
  }

  // 4. A stdio server under `mcptap wrap`, started with secret flags and env, that echoes and logs them.
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cli, 'wrap', '--db', tmp.db, '--label', 'stdio', '--', process.execPath, stdioServer, '--pat', S.flagPat, '--auth', S.flagAuth, `--token=${S.flagToken}`, `--connection-string=Server=db;User Id=sa;Password=${S.connPassword}`],
    env: { ...process.env, GITHUB_PERSONAL_ACCESS_TOKEN: S.stdioEnvToken, DATABASE_URL: `postgres://app:${S.dbUrlPassword}@localhost/app` } as Record<string, string>,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'corpus', version: '1.0.0' });
  await client.connect(transport);
  await client.callTool({ name: 'env', arguments: { name: 'GITHUB_PERSONAL_ACCESS_TOKEN' } });
  await client.callTool({ name: 'env', arguments: { name: 'DATABASE_URL' } });
  await client.callTool({ name: 'log', arguments: { lines: [`DATABASE_URL=postgres://app:${S.dbUrlPassword}@localhost/app`, `started with --token ${S.flagToken}`, `Authorization: Bearer ${S.bearer}`] } });
  await client.close();

  // 5. server-everything's get-env under wrap: the whole environment as JSON inside a tool result's text.
  const everything = new Client({ name: 'corpus', version: '1.0.0' });
  await everything.connect(new StdioClientTransport({
    command: process.execPath,
    args: [cli, 'wrap', '--db', tmp.db, '--label', 'everything', '--', process.execPath, everythingBin, 'stdio'],
    env: { ...process.env, STRIPE_SECRET_KEY: S.everythingSecret, SOME_SETTING: S.everythingNeutral } as Record<string, string>,
    stderr: 'pipe',
  }));
  const env = await everything.callTool({ name: 'get-env', arguments: {} });
  expect(JSON.stringify(env)).toContain(S.everythingSecret);
  await everything.close();
}, 120_000);

afterAll(async () => {
  for (const u of upstreams) await u.close();
  tmp.cleanup();
});

describe('secrets corpus', () => {
  it('carries at least 24 secret shapes', () => {
    expect(Object.keys(S).length).toBeGreaterThanOrEqual(24);
  });

  it('the traffic was recorded (the searches below look at real captures)', () => {
    const labels = new Set(sessionList().map((s) => s.label));
    for (const l of ['sdk', 'model', 'oauth', 'stdio', 'everything']) expect(labels.has(l), l).toBe(true);
  });

  it('no secret is in the database, its -wal or its -shm', () => {
    const files = ['', '-wal', '-shm'].map((s) => tmp.db + s).filter((f) => fs.existsSync(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(leaks(fs.readFileSync(f)), f).toEqual([]);
  });

  it('no secret in any export, CLI output or check report', () => {
    const out = cliRun('sessions', '--db', tmp.db, '--json');
    const ids = sessionList().map((s) => s.id);
    expect(ids.length).toBeGreaterThanOrEqual(5);
    const outputs: Record<string, string> = { 'sessions --json': out, sessions: cliRun('sessions', '--db', tmp.db) };
    for (const id of ids) {
      outputs[`show ${id}`] = cliRun('show', id, '--db', tmp.db);
      outputs[`export ${id}`] = cliRun('export', id, '--db', tmp.db);
      outputs[`export har ${id}`] = cliRun('export', id, '--db', tmp.db, '--format', 'har');
    }
    for (const format of ['text', 'json', 'sarif', 'junit']) outputs[`check ${format}`] = cliRun('check', '--all', '--db', tmp.db, '--format', format);
    for (const term of ['redacted', 'token', 'password', 'configure', 'corpus']) outputs[`search ${term}`] = cliRun('search', term, '--db', tmp.db, '--json') + cliRun('search', term, '--db', tmp.db);
    for (const [what, text] of Object.entries(outputs)) expect(leaks(text), what).toEqual([]);
    // The searches found the fingerprints: there was something to leak.
    expect(outputs['search redacted']).toMatch(/\[redacted:[0-9a-f]{8}/);
  });

  it('one secret has one fingerprint in one database, from the proxy and from wrap alike', () => {
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const sessions = store.listSessions();
      const sdk = sessions.find((x) => x.label === 'sdk')!;
      const stdio = sessions.find((x) => x.label === 'stdio')!;
      const header = store.exchanges(sdk.id)[0].requestHeaders.find(([k]) => k.toLowerCase() === 'authorization')![1];
      expect(header).toMatch(/^Bearer \[redacted:[0-9a-f]{8}…0001\]$/);
      const logged = store.messages(stdio.id).find((m) => m.kind === 'log' && m.payload.startsWith('Authorization:'))!;
      expect(logged.payload).toBe(`Authorization: ${header}`);
      expect(logged.subject).toBe(logged.payload);
    } finally {
      store.close();
    }
  });

  it('usage counts and plain arguments stay as they were', () => {
    const sdk = sessionList().find((s) => s.label === 'sdk')!;
    const rec = cliRun('export', sdk.id, '--db', tmp.db);
    expect(rec).toMatch(/\\?"region\\?":\\?"eu/);
    expect(rec).toMatch(/\\?"max_tokens\\?":100/);
  });
});
