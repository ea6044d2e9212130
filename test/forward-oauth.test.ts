import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { LeafIssuer } from '../src/proxy/ca.js';
import { caFiles } from '../src/proxy/ca-files.js';
import { CaptureStore } from '../src/store/read.js';
import { runChecks } from '../src/analysis/checks/engine.js';
import { loadDiffInput } from '../src/analysis/input.js';
import { startOAuthServer, type OAuthPeer } from './helpers/oauth.js';
import { tempDb } from './helpers/tmp.js';

// The MCP OAuth flow through forward mode, as Claude Code runs it since 2.1.133 (the proxy covers the whole flow):
// an MCP SDK client over Node's fetch with undici's EnvHttpProxyAgent and mcptap's CA in NODE_EXTRA_CA_CERTS (a
// child process), against an HTTPS authorization server (the SDK's mcpAuthRouter) and an HTTPS MCP server behind
// the SDK's requireBearerAuth, both "real" hosts with the test's own CA. The whole login is on the record, and
// none of its secrets (the code, the PKCE verifier, the client secret, the tokens) is in the database file or in
// any export.

const run = promisify(execFile);
const tmp = tempDb('forward-oauth.db');
const CLIENT = path.resolve('test/helpers/forward-client.mjs');
const CLI = path.resolve('dist/src/cli/main.js');
const mcptapCa = caFiles(path.join(tmp.dir, 'mcptap-ca'));
const realCa = caFiles(path.join(tmp.dir, 'real-ca'));

let proxy: RunningProxy;
let server: OAuthPeer;
let collector: { url: string; bodies: Buffer[]; close(): Promise<void> };

/** An OTLP/HTTP collector that keeps what it is sent. */
async function startCollector(): Promise<typeof collector> {
  const bodies: Buffer[] = [];
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as { port: number }).port}`,
    bodies,
    close: () => new Promise<void>((r) => {
      s.closeAllConnections();
      s.close(() => r());
    }),
  };
}

beforeAll(async () => {
  const real = await LeafIssuer.load(realCa);
  const { key, cert } = await real.leaf('localhost');
  server = await startOAuthServer({ tls: { key, cert, host: 'localhost' } });
  collector = await startCollector();
  proxy = await startProxy({
    forward: { policy: { all: false, hosts: ['localhost'], passthrough: [] }, upstreamCa: [realCa.certPath], caDir: mcptapCa.dir },
    port: 0, db: tmp.db, onWarning: () => {},
  });
});

afterAll(async () => {
  await proxy?.close();
  await server?.close();
  await collector?.close();
  tmp.cleanup();
});

describe('OAuth through proxy --forward', () => {
  it('logs in and calls a tool unchanged; discovery, registration, the authorize redirect and the token exchange are recorded; no secret is stored or exported', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '', no_proxy: '', NODE_EXTRA_CA_CERTS: mcptapCa.certPath };
    const { stdout } = await run(process.execPath, [CLIENT, 'oauth', server.endpoint], { env, timeout: 60_000 });
    const got = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(got.failed).toBeUndefined();
    expect(got.text).toBe('after the login');
    // The client saw the real values: these are what must not be in anything mcptap wrote.
    const secrets: Record<string, string> = Object.fromEntries(Object.entries(got.secrets as Record<string, string | undefined>).filter((e): e is [string, string] => !!e[1]));
    expect(Object.keys(secrets)).toEqual(expect.arrayContaining(['code', 'verifier', 'clientSecret', 'accessToken']));
    expect(server.issued()).toContain(secrets.accessToken);
    await proxy.flush();

    const asOrigin = new URL(server.issuer).origin;
    const store = CaptureStore.open(tmp.db, { readonly: true });
    let ids: string[];
    try {
      const sessions = store.listSessions();
      ids = sessions.map((s) => s.id);
      const all = sessions.flatMap((s) => store.exchanges(s.id));
      const at = (origin: string, method: string, p: RegExp) => all.filter((e) => e.upstreamUrl.startsWith(origin) && e.method === method && p.test(e.url));
      // The MCP server's 401 that starts the login, and its protected-resource metadata.
      expect(at(server.url, 'POST', /^\/mcp$/).map((e) => e.status)).toEqual(expect.arrayContaining([401, 200]));
      expect(at(server.url, 'GET', /^\/\.well-known\/oauth-protected-resource\/mcp$/).map((e) => e.status)).toContain(200);
      // The authorization server: its metadata, the registration, the authorize redirect, the token exchange.
      expect(at(asOrigin, 'GET', /^\/\.well-known\/oauth-authorization-server/).map((e) => e.status)).toContain(200);
      const register = at(asOrigin, 'POST', /^\/register$/);
      expect(register.map((e) => e.status)).toEqual([201]);
      const authorize = at(asOrigin, 'GET', /^\/authorize\?/);
      expect(authorize.map((e) => e.status)).toEqual([302]);
      const location = authorize[0].responseHeaders!.find(([k]) => k.toLowerCase() === 'location')![1];
      expect(location).toMatch(/^http:\/\/127\.0\.0\.1:9\/callback\?/);
      expect(new URL(location).searchParams.get('code')).not.toBe(secrets.code);
      // The PKCE challenge is public (it is the verifier's hash); the request is kept, readable.
      expect(authorize[0].url).toContain('code_challenge_method=S256');
      const token = at(asOrigin, 'POST', /^\/token$/);
      expect(token.map((e) => e.status)).toEqual([200]);
      expect(token[0].requestBody).toContain('grant_type=authorization_code');
      expect(JSON.parse(token[0].responseBody!)).toMatchObject({ token_type: expect.stringMatching(/bearer/i) });
      // Inside the tunnel the client speaks to the real URL: nothing is rewritten, so nothing is to be explained.
      expect(all.flatMap((e) => e.rewrites ?? [])).toEqual([]);
      const mcp = sessions.find((s) => s.clientInfo?.name === 'forward-oauth-client' && store.messages(s.id).some((m) => m.method === 'tools/call'));
      expect(mcp).toBeDefined();
      expect(runChecks(loadDiffInput(mcp!.id, store)).filter((f) => f.severity !== 'info')).toEqual([]);
    } finally {
      store.close();
    }

    // Every format mcptap writes: the database file itself (and its WAL), JSONL and HAR of every session, OTLP spans
    // with payloads.
    const out = path.join(tmp.dir, 'exports');
    fs.mkdirSync(out);
    for (const id of ids) {
      await run(process.execPath, [CLI, 'export', id, '--db', tmp.db, '-o', path.join(out, `${id}.jsonl`)]);
      await run(process.execPath, [CLI, 'export', id, '--db', tmp.db, '--format', 'har', '-o', path.join(out, `${id}.har`)]);
    }
    await run(process.execPath, [CLI, 'export', '--all', '--db', tmp.db, '--otlp', collector.url, '--otlp-payloads']);
    expect(collector.bodies.length).toBeGreaterThan(0);
    const written: Array<[string, Buffer]> = [
      ...[tmp.db, `${tmp.db}-wal`].filter((f) => fs.existsSync(f)).map((f): [string, Buffer] => [f, fs.readFileSync(f)]),
      ...fs.readdirSync(out).map((f): [string, Buffer] => [f, fs.readFileSync(path.join(out, f))]),
      ...collector.bodies.map((b, i): [string, Buffer] => [`otlp request ${i}`, b]),
    ];
    // The exports are not empty of the login: the authorization server's exchanges are in them.
    expect(written.some(([, b]) => b.includes('/register'))).toBe(true);
    for (const [name, bytes] of written) {
      for (const [what, value] of Object.entries(secrets)) {
        for (const form of new Set([value, encodeURIComponent(value)])) expect(bytes.includes(form), `${what} in ${name}`).toBe(false);
      }
    }
  });
});
