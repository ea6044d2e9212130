import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRecording } from '../../src/store/jsonl.js';
import { runChecks, type Finding } from '../../src/analysis/checks/engine.js';
import { reqHeader } from '../../src/analysis/checks/context.js';
import { describeGateway, gatewayDebugHeaders } from '../../src/capture/gateway.js';
import type { Session } from '../../src/model/model.js';
import { connectClient } from '../helpers/peers.js';
import { factsFor } from './facts.js';
import { MASTER_KEY } from './litellm.js';
import { HERE, pins } from './peers.js';
import { INIT, ownConnections, rpc, send, startStack, type Stack } from './stack.js';

// Gateway-aware capture and LiteLLM's failure modes, each shown on the real proxy: the MCP SDK's client
// through `mcptap proxy` to LiteLLM, in front of FastMCP servers (two working, one down, one declared with
// the wrong transport). What mcptap recorded is read back from its database and checked.

const auth = { Authorization: `Bearer ${MASTER_KEY}` };
const FIXTURES = path.join(HERE, '..', 'fixtures', 'litellm');

describe.each(pins().litellm)('LiteLLM %s: attribution and findings', (version) => {
  const f = factsFor(version);
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(version, { broken: true });
  });
  afterAll(async () => s?.close());

  /** An SDK client through the proxy, on connections of its own. */
  async function client(path: string, name: string, headers: Record<string, string>) {
    const pool = ownConnections();
    const c = await connectClient('streamable-http', s.proxy.url + path, { name, headers, fetch: pool.fetch });
    return { client: c.client, close: async () => { await c.close(); pool.close(); } };
  }

  /** The session a client labelled `name` (clientInfo) made, its findings and its record. */
  async function recorded(name: string): Promise<{ session: Session; findings: Finding[]; calls: Array<{ subject: string | null; server?: string }> }> {
    await s.proxy.flush();
    const store = s.store();
    try {
      const session = store.listSessions().filter((x) => x.clientInfo?.name === name).at(-1);
      if (!session) throw new Error(`no session from ${name}`);
      const input = { session, messages: store.messages(session.id), exchanges: store.exchanges(session.id) };
      // MCPTAP_INTEROP_RECORD=1 keeps the real traffic (redacted) for npm test's gateway-recordings.test.ts.
      if (process.env.MCPTAP_INTEROP_RECORD) {
        fs.mkdirSync(FIXTURES, { recursive: true });
        writeRecording(store, session.id, path.join(FIXTURES, `${version}-${name}.jsonl`));
      }
      return { session, findings: runChecks(input), calls: input.messages.filter((m) => m.method === 'tools/call' && m.kind === 'request').map((m) => ({ subject: m.subject })) };
    } finally {
      store.close();
    }
  }

  it('knows a session went through LiteLLM, and to which server, from the header and the tool prefix', async () => {
    const c = await client('/mcp/', 'attr-header', { ...auth, 'x-mcp-servers': 'db_main' });
    const { tools } = await c.client.listTools();
    await c.client.callTool({ name: tools.find((t) => t.name.endsWith('list_schemas'))!.name, arguments: {} });
    await c.close();
    const { session } = await recorded('attr-header');
    expect(session.gateway).toMatchObject({ name: 'litellm', servers: ['db_main'], selectedBy: 'header', prefixes: f.singleServerPrefixed ? ['db_main'] : [] });
    expect(describeGateway(session.gateway)).toBe('via litellm → db_main');
  });

  it('knows the servers of a session that selected none, from the prefixes LiteLLM listed', async () => {
    const c = await client('/mcp/', 'attr-all', auth);
    await c.client.listTools();
    await c.close();
    const { session } = await recorded('attr-all');
    expect(session.gateway).toMatchObject({ name: 'litellm', servers: [], selectedBy: null });
    expect(session.gateway!.prefixes).toEqual(expect.arrayContaining(['db_main', 'files']));
  });

  it('takes the server from a /mcp/<server> path', async () => {
    const c = await client('/mcp/files', 'attr-path', auth);
    await c.client.listTools();
    await c.close();
    const { session } = await recorded('attr-path');
    expect(session.gateway).toMatchObject({ servers: ['files'], selectedBy: 'path' });
    expect(describeGateway(session.gateway)).toBe('via litellm → files');
  });

  it('gateway-tool-error: an upstream error text returned with isError false', async () => {
    const c = await client('/mcp/', 'masked', { ...auth, 'x-mcp-servers': 'db_main' });
    await c.client.callTool({ name: 'db_main-execute_sql', arguments: { sql: 'select * from missing' } });
    await c.client.callTool({ name: 'db_main-explode', arguments: {} });
    await c.close();
    const { findings } = await recorded('masked');
    const masked = findings.filter((x) => x.ruleId === 'gateway-tool-error');
    // 1.77 also drops the upstream's isError true from the tool that raised.
    expect(masked.map((x) => x.title.replace(/:.*/, ''))).toEqual(
      f.raisedToolIsError ? ['tools/call db_main-execute_sql returned an error as a success'] : ['tools/call db_main-execute_sql returned an error as a success', 'tools/call db_main-explode returned an error as a success']);
    expect(masked[0].fix).toMatch(/upstream|Upgrade/);
  });

  it("gateway-tool-error names LiteLLM's own text for a tool it does not know", async () => {
    const c = await client('/mcp/', 'notfound', { ...auth, 'x-mcp-servers': 'db_main' });
    await c.client.callTool({ name: 'nosuch', arguments: {} });
    await c.close();
    const { findings } = await recorded('notfound');
    if (f.unknownToolIsError) {
      expect(findings.some((x) => x.ruleId === 'gateway-tool-error')).toBe(false);
    } else {
      const x = findings.find((y) => y.ruleId === 'gateway-tool-error')!;
      expect(x.title).toBe("tools/call nosuch returned an error as a success: Error: Tool 'nosuch' not found");
      expect(x.explanation).toMatch(/LiteLLM's own text/);
    }
  });

  it('gateway-upstream: tools/list 200 without the tools of a server that is down or speaks the other transport', async () => {
    for (const [name, srv] of [['down', 'down_srv'], ['wrongtr', 'wrong_tr']]) {
      const c = await client('/mcp/', name, { ...auth, 'x-mcp-servers': srv });
      const { tools } = await c.client.listTools();
      expect(tools).toEqual([]);
      await c.close();
      const { findings } = await recorded(name);
      const x = findings.filter((y) => y.ruleId === 'gateway-upstream');
      expect(x.map((y) => y.title)).toEqual([`tools/list answered 200 with no tools: LiteLLM could not reach ${srv}`]);
      expect(x[0].fix).toContain(`mcp_servers.${srv}`);
    }
  });

  it('gateway-servers: an x-mcp-servers value that matches no server', async () => {
    // 1.108 refuses the connection itself.
    const c = await client('/mcp/', 'typo', { ...auth, 'x-mcp-servers': 'db-mian' }).catch(() => null);
    await c?.client.listTools();
    await c?.close();
    const { findings, session } = await recorded('typo');
    if (!f.unknownServerError) expect(session.gateway?.servers).toEqual(['db-mian']);
    const x = findings.filter((y) => y.ruleId === 'gateway-servers');
    expect(x).toHaveLength(1);
    expect(x[0].title).toMatch(f.unknownServerError ? /^POST \/mcp\/ answered 4\d\d: x-mcp-servers: db-mian names no server this key may use$/ : /^x-mcp-servers: db-mian matched no server: LiteLLM fell back to all of them \(db_main, files\)/);
    expect(findings.filter((y) => y.ruleId === 'http-status' || y.ruleId === 'auth')).toEqual([]);
  });

  it('--gateway-debug asks LiteLLM what it resolved (a recorded transform); without it nothing is added', async () => {
    const debugging = await s.extraProxy(s.litellm.url, { gatewayDebug: true });
    const pool = ownConnections();
    const c = await connectClient('streamable-http', debugging.url + '/mcp/', { name: 'debugged', headers: { ...auth, 'x-mcp-servers': 'db_main' }, fetch: pool.fetch });
    await c.client.listTools();
    await c.close();
    pool.close();
    await debugging.flush();
    const store = s.store();
    try {
      const session = store.listSessions().filter((x) => x.clientInfo?.name === 'debugged').at(-1)!;
      const posts = store.exchanges(session.id).filter((e) => e.method === 'POST');
      expect(posts.length).toBeGreaterThan(0);
      for (const e of posts) expect(e.rewrites).toEqual([{ kind: 'gateway-debug-header', before: null, after: 'x-litellm-mcp-debug: true' }]);
      const debug = posts.flatMap((e) => gatewayDebugHeaders(e.responseHeaders));
      console.log(version, JSON.stringify(debug));
      if (f.answersDebugHeaders) {
        expect(new Map(debug).get('outbound-url')).toBe(s.upstream.db_main.endpoint);
        // Whatever LiteLLM says about the key is stored as a fingerprint.
        expect(JSON.stringify(debug)).not.toContain(MASTER_KEY);
      } else {
        expect(debug).toEqual([]);
      }
      // The session the main proxy (no flag) recorded: LiteLLM was not asked, and said nothing.
      const plain = store.listSessions().filter((x) => x.clientInfo?.name === 'attr-header').at(-1)!;
      const plainPosts = store.exchanges(plain.id);
      expect(plainPosts.every((e) => e.rewrites.length === 0 && gatewayDebugHeaders(e.responseHeaders).length === 0)).toBe(true);
    } finally {
      store.close();
    }
  });

  it('a plain GET of /mcp/ (curl) is told as a test artefact, not a broken gateway, and nothing else', async () => {
    const a = await send(s.proxy.url + '/mcp/', { headers: { accept: '*/*', 'user-agent': 'curl/8.5.0' }, headOnly: f.plainGetStatus !== 406 });
    expect(a.status).toBe(f.plainGetStatus);
    await s.proxy.flush();
    const store = s.store();
    try {
      const session = store.listSessions().find((x) => store.exchanges(x.id).some((e) => reqHeader(e, 'user-agent') === 'curl/8.5.0'))!;
      const all = runChecks({ session, messages: store.messages(session.id), exchanges: store.exchanges(session.id) });
      expect(all.map((x) => x.title)).toEqual(f.plainGetStatus === 406
        ? ['GET /mcp/ answered 406 Not Acceptable: a GET here must accept text/event-stream (a plain curl or browser gets this)'] : []);
    } finally {
      store.close();
    }
  });

  it('gateway-auth: a refused key, with the header it came in', async () => {
    const bad = await send(s.proxy.url + '/mcp/', { body: rpc('initialize', { ...INIT, clientInfo: { name: 'badkey', version: '1' } }), auth: { 'x-litellm-api-key': 'Bearer sk-not-the-master-key' } });
    expect(bad.status).toBe(f.badKeyMcpStatus);
    const { findings } = await recorded('badkey');
    const x = findings.filter((y) => y.ruleId === 'gateway-auth');
    expect(x).toHaveLength(1);
    expect(x[0].title).toMatch(f.badKeyMcpStatus === 400 ? /answered 400: LiteLLM refused the key \(not the master key/ : /answered 500: LiteLLM refused the key, reported as a server error/);
    expect(x[0].explanation).toMatch(/The key came in x-litellm-api-key \(Bearer \[redacted:[0-9a-f]{8}…-key\]\)/);
    expect(x[0].explanation).not.toContain('sk-not-the-master-key');
    // Told once: not also as a 5xx or an HTTP refusal.
    expect(findings.filter((y) => y.ruleId === 'upstream-failure' || y.ruleId === 'http-status')).toEqual([]);
  });
});
