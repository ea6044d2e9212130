import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../src/analysis/checks/engine.js';
import { CaptureStore } from '../../src/store/read.js';
import { writeRecording } from '../../src/store/jsonl.js';
import { connectClient } from '../helpers/peers.js';
import { until } from '../helpers/tmp.js';
import { factsFor } from './facts.js';
import { MASTER_KEY } from './litellm.js';
import { freePort, HERE, pins, probe, startFastMcp } from './peers.js';
import { INIT, ownConnections, rpc, send, startStack, type Stack } from './stack.js';

// `mcptap proxy` as people run it, in front of the real LiteLLM: its live output names each gateway
// failure while the traffic flows (before anyone runs `mcptap check`), and the findings recorded for
// the client pointed at the wrong transport, an upstream that died, and the /mcp redirect read as LiteLLM's.

const CLI = path.join(HERE, '..', '..', 'dist', 'src', 'cli', 'main.js');
const key = { 'x-litellm-api-key': `Bearer ${MASTER_KEY}` };

describe.each(pins().litellm)('LiteLLM %s: live findings through mcptap proxy', (version) => {
  const f = factsFor(version);
  let s: Stack;
  let proxy: ChildProcess;
  let url: string;
  let db: string;
  let out = '';

  beforeAll(async () => {
    s = await startStack(version, { broken: true });
    db = s.db.replace(/captures\.db$/, 'live.db');
    const port = await freePort();
    proxy = spawn(process.execPath, [CLI, 'proxy', '--target', s.litellm.url, '--port', String(port), '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
    proxy.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    proxy.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    url = `http://127.0.0.1:${port}`;
    await until(async () => (await probe(url + '/health/liveliness')) === 200, `mcptap proxy on ${url} (output so far: ${out})`, 60_000);
  });
  afterAll(async () => {
    if (proxy && proxy.exitCode == null) {
      const gone = new Promise((r) => proxy.once('exit', r));
      proxy.kill('SIGTERM');
      await gone;
    }
    await s?.close();
  });

  /** The live line for a rule, once the proxy has printed it (it prints while traffic flows). */
  async function liveLine(rule: string, about: RegExp): Promise<string> {
    const find = () => out.split('\n').find((l) => l.includes(`[${rule}]`) && about.test(l));
    await until(() => !!find(), `a live [${rule}] line matching ${about} (output: ${out})`, 60_000);
    return find()!;
  }

  /** The findings `mcptap check` would give for the session whose initialize named `client`. */
  function recorded(client: string, match: (s: { clientInfo?: { name?: string } | null; id: string }) => boolean = (x) => x.clientInfo?.name === client) {
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const session = store.listSessions().filter(match).at(-1)!;
      if (process.env.MCPTAP_INTEROP_RECORD && client) writeRecording(store, session.id, path.join(HERE, '..', 'fixtures', 'litellm', `${version}-${client}.jsonl`));
      return runChecks({ session, messages: store.messages(session.id), exchanges: store.exchanges(session.id) });
    } finally {
      store.close();
    }
  }

  async function sdk(p: string, name: string, headers: Record<string, string>) {
    const pool = ownConnections();
    const c = await connectClient('streamable-http', url + p, { name, headers, fetch: pool.fetch });
    return { client: c.client, close: async () => { await c.close(); pool.close(); } };
  }

  it('prints gateway-auth for a refused key while the client is still trying', async () => {
    const c = await sdk('/mcp/', 'live-badkey', { 'x-litellm-api-key': 'Bearer sk-live-wrong-key' }).catch((e: Error) => e);
    expect(c).toBeInstanceOf(Error);
    const line = await liveLine('gateway-auth', /LiteLLM refused the key/);
    expect(line).toMatch(f.badKeyMcpStatus === 500 ? /answered 500: LiteLLM refused the key, reported as a server error \(\+1 consequence: \[upstream-failure\]\) — fix: Send the master key \(or a virtual key, with a database\): claude mcp add --transport http <name> http:\/\/127\.0\.0\.1:\d+\/mcp\/ --header "x-litellm-api-key: Bearer <key>"/ : /answered 400: LiteLLM refused the key \(not the master key/);
    expect(out).not.toContain('sk-live-wrong-key');
  });

  it('prints gateway-servers for an x-mcp-servers value that matches no server', async () => {
    const c = await sdk('/mcp/', 'live-typo', { ...key, 'x-mcp-servers': 'db-mian' }).catch(() => null);
    await c?.client.listTools();
    await c?.close();
    await liveLine('gateway-servers', /db-mian/);
  });

  it('prints gateway-upstream for a tool list LiteLLM answered empty because down_srv is down', async () => {
    const c = await sdk('/mcp/', 'live-down', { ...key, 'x-mcp-servers': 'down_srv' });
    expect((await c.client.listTools()).tools).toEqual([]);
    await c.close();
    expect(await liveLine('gateway-upstream', /down_srv/)).toContain('tools/list answered 200 with no tools: LiteLLM could not reach down_srv — fix: Check mcp_servers.down_srv in config.yaml');
  });

  it('a client at LiteLLM with --transport sse (as Claude Code does): one finding, that says so, with the claude mcp add --transport http line', async () => {
    // The SDK's SSE transport, as Claude Code's --transport sse uses it: a GET with Accept: text/event-stream and the headers given.
    let opened!: (status: number) => void;
    const head = new Promise<number>((r) => (opened = r));
    const fetchSeen = async (u: string | URL, init?: RequestInit) => {
      const res = await fetch(u, init);
      if ((init?.method ?? 'GET') === 'GET') opened(res.status);
      return res;
    };
    const transport = new SSEClientTransport(new URL(url + '/mcp/'), { requestInit: { headers: { ...key, 'x-mcp-servers': 'db_main' } }, fetch: fetchSeen });
    const client = new Client({ name: 'live-sse', version: '1.0.0' });
    // It never connects: connect() stays pending, and the transport is closed under it.
    void client.connect(transport).catch(() => {});
    // LiteLLM answers the GET with an event stream that never names an endpoint: the client waits (Claude Code gives up after 30 s).
    expect(await head).toBe(200);
    await transport.close();
    const line = await liveLine('transport-mismatch', /LiteLLM/);
    expect(line).toMatch(/GET \/mcp\/ is LiteLLM's Streamable HTTP MCP route: a legacy SSE client \(--transport sse\) waits there for an "endpoint" event that never comes — fix: Register LiteLLM with the http transport: claude mcp add --transport http <name> http:\/\/127\.0\.0\.1:\d+\/mcp\/ --header "x-litellm-api-key: Bearer <key>" --header "x-mcp-servers: db_main"/);
    const session = /session (\S+):/.exec(line)![1];
    const findings = recorded('', (x) => x.id === session);
    expect(findings.map((x) => `${x.ruleId}: ${x.title}`)).toEqual([`transport-mismatch: GET /mcp/ is LiteLLM's Streamable HTTP MCP route: a legacy SSE client (--transport sse) waits there for an "endpoint" event that never comes`]);
    expect(findings[0].explanation).toMatch(/LiteLLM serves MCP over Streamable HTTP only/);
  });

  it('the /mcp redirect (1.77) is told in LiteLLM\'s terms, with the URL to use', async () => {
    const a = await send(url + '/mcp', { body: rpc('initialize', { ...INIT, clientInfo: { name: 'live-redirect', version: '1' } }) });
    expect(a.status).toBe(f.bareMcpStatus);
    if (f.bareMcpStatus !== 307) return;
    const line = await liveLine('redirect', /POST \/mcp answered 307/);
    expect(line).toMatch(/redirected to \/mcp\/, and the client did not follow it — fix: Point the client at the URL the server redirects to: claude mcp add --transport http <name> http:\/\/127\.0\.0\.1:\d+\/mcp\//);
    const findings = recorded('live-redirect');
    expect(findings.find((x) => x.ruleId === 'redirect')!.explanation).toMatch(/LiteLLM serves MCP on \/mcp\//);
  });

  it('an upstream that dies after listing: 1.77 answers "MCP client session is not initialized" as a success (a live error), and recovers once the server is back', async () => {
    const c = await sdk('/mcp/', 'live-died', { ...key, 'x-mcp-servers': 'db_main' });
    await c.client.listTools();
    const port = s.upstream.db_main.port;
    await s.upstream.db_main.stop();
    const down = await c.client.callTool({ name: 'db_main-echo', arguments: { message: 'x' } }) as { content: Array<{ text: string }>; isError?: boolean };
    const back = await startFastMcp('sse', 'db_main', port);
    s.upstream.db_main.stop = back.stop;
    const again = await c.client.callTool({ name: 'db_main-echo', arguments: { message: 'x' } }) as { content: Array<{ text: string }> };
    await c.close();
    // No restart of LiteLLM needed on either pin: the next call reaches the restarted server.
    expect(again.content[0].text).toBe('db_main: x');
    if (f.raisedToolIsError) {
      // 1.108 says it failed: isError true with the connection error.
      expect(down.isError).toBe(true);
      expect(down.content[0].text).toMatch(/Error/);
      return;
    }
    expect(down).toMatchObject({ isError: false, content: [{ text: 'MCP client session is not initialized' }] });
    const line = await liveLine('gateway-tool-error', /MCP client session is not initialized/);
    expect(line).toContain('tools/call db_main-echo returned an error as a success: MCP client session is not initialized — fix: Start (or fix) the upstream server db_main: mcp_servers.db_main.url in config.yaml must answer');
    const x = recorded('live-died').filter((y) => y.ruleId === 'gateway-tool-error');
    expect(x).toHaveLength(1);
    expect(x[0].explanation).toMatch(/LiteLLM's own text: LiteLLM could not reach the upstream MCP server/);
  });
});
