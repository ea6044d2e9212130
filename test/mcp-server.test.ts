import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { captureSession } from './helpers/capture.js';
import { listen, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { clientRequests, readRun, replayHandler, sendRecorded, type Run } from './helpers/claude-fixtures.js';

// `mcptap mcp` driven by the SDK's own client, over stdio and Streamable HTTP, against a database the
// proxy filled with real traffic: server-everything through the proxy, and the Claude Code fixtures'
// conversations. Every tool's answer is read; paging, the byte cap and bad arguments are exercised; and
// mcptap's own MCP traffic, wrapped, is recorded like any server's.

const tmp = tempDb();
const self = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const ids: Record<string, string> = {};
let everythingPeer: Peer;
let stdio: Client;
let httpClient: Client;
let httpChild: ChildProcess;
const LONG = 'x'.repeat(6000);

type ToolAnswer = { isError?: boolean; content: Array<{ type: string; text: string }> };
async function call(c: Client, name: string, args: Record<string, unknown> = {}): Promise<{ isError: boolean; json: any; text: string }> {
  const r = (await c.callTool({ name, arguments: args })) as ToolAnswer;
  const text = r.content[0]?.text ?? '';
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* an error's text */ }
  return { isError: r.isError === true, json, text };
}

beforeAll(async () => {
  for (const r of ['echo-http', 'no-such-tool'] as Run[]) {
    const l = await listen(http.createServer(replayHandler(readRun(r, 'model'), readRun(r, 'mcp'))));
    const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: r, onWarning: () => {} });
    for (const { ex } of clientRequests(r)) await sendRecorded(p.url, ex);
    await p.close();
    await l.close();
  }
  everythingPeer = await startStreamableServer();
  ids.everything = await captureSession(tmp.db, everythingPeer, 'everything', async (c) => {
    await c.listTools();
    for (let i = 0; i < 30; i++) await c.callTool({ name: 'echo', arguments: { message: `call ${i}` } });
    await c.callTool({ name: 'echo', arguments: { message: LONG } });
  });
  const store = CaptureStore.open(tmp.db, { readonly: true });
  for (const s of store.listSessions()) ids[`${s.label}/${s.transport}`] = s.id;
  store.close();

  stdio = new Client({ name: 'mcp-test', version: '1.0.0' });
  await stdio.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp', '--db', tmp.db], stderr: 'pipe' }));

  httpChild = spawn(process.execPath, [cli, 'mcp', '--db', tmp.db, '--transport', 'http', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    httpChild.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(err);
      if (m) resolve(m[1]);
    });
    httpChild.once('exit', (code) => reject(new Error(`mcptap mcp exited ${code}: ${err}`)));
  });
  httpClient = new Client({ name: 'mcp-test-http', version: '1.0.0' });
  await httpClient.connect(new StreamableHTTPClientTransport(new URL(url)));
});

afterAll(async () => {
  await stdio?.close();
  await httpClient?.close();
  if (httpChild && httpChild.exitCode == null) {
    const exited = new Promise((r) => httpChild.once('exit', r));
    httpChild.kill('SIGTERM');
    await exited;
  }
  await everythingPeer?.close();
  tmp.cleanup();
  self.cleanup();
});

describe('mcptap mcp over stdio', () => {
  it('lists its six tools, read-only, and a recording resource per session', async () => {
    const tools = (await stdio.listTools()).tools;
    expect(tools.map((t) => t.name).sort()).toEqual(['check_session', 'conversation', 'list_sessions', 'search', 'show_session', 'streams']);
    expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
    const res = (await stdio.listResources()).resources;
    expect(res.map((r) => r.uri)).toContain(`mcptap://session/${ids.everything}/recording.jsonl`);
  });

  it('list_sessions: newest first, with the filters', async () => {
    const all = await call(stdio, 'list_sessions');
    expect(all.isError).toBe(false);
    expect(all.json.items[0].id).toBe(ids.everything);
    expect(all.json.total).toBe(5);
    const convs = await call(stdio, 'list_sessions', { transport: 'model-api' });
    expect(convs.json.items.map((s: any) => s.label).sort()).toEqual(['echo-http', 'no-such-tool']);
    const errs = await call(stdio, 'list_sessions', { errorsOnly: true });
    expect(errs.json.items.map((s: any) => s.id)).toContain(ids['no-such-tool/model-api']);
    expect(errs.json.items.map((s: any) => s.id)).not.toContain(ids.everything);
    expect(errs.json.items.every((s: any) => s.errorCount > 0)).toBe(true);
    const byServer = (await call(stdio, 'list_sessions', { server: 'everything' })).json.items;
    expect(byServer.map((s: any) => s.id)).toContain(ids.everything);
    expect(byServer.every((s: any) => s.serverName === 'mcp-servers/everything')).toBe(true);
    expect((await call(stdio, 'list_sessions', { since: '1d' })).json.total).toBe(5);
    expect((await call(stdio, 'list_sessions', { since: '2999-01-01T00:00:00Z' })).json.total).toBe(0);
    const page = await call(stdio, 'list_sessions', { limit: 2 });
    expect(page.json.items).toHaveLength(2);
    expect(page.json.more).toBe('2');
    const next = await call(stdio, 'list_sessions', { limit: 2, cursor: page.json.more });
    expect(next.json.items[0].id).toBe(all.json.items[2].id);
  });

  it('show_session pages the messages with a more cursor that continues where the page ended', async () => {
    const first = await call(stdio, 'show_session', { session: ids.everything.slice(0, 6), limit: 10 });
    expect(first.isError).toBe(false);
    expect(first.json.messages.map((m: any) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(first.json.more).toBe('11');
    const second = await call(stdio, 'show_session', { session: ids.everything, limit: 10, cursor: first.json.more });
    expect(second.json.messages[0].seq).toBe(11);
    // The whole session, page by page, has every message once.
    const seen: number[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 50; i++) {
      const p = await call(stdio, 'show_session', { session: ids.everything, limit: 25, cursor });
      seen.push(...p.json.messages.map((m: any) => m.seq));
      if (!p.json.more) break;
      cursor = p.json.more;
    }
    const store = CaptureStore.open(tmp.db, { readonly: true });
    const count = store.countMessages(ids.everything);
    store.close();
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });

  it('show_session: the filter language, folded _meta, long strings cut, and the byte cap', async () => {
    const echo = await call(stdio, 'show_session', { session: ids.everything, filter: 'method:tools/call dir:c2s', limit: 500 });
    expect(echo.json.messages).toHaveLength(31);
    expect(echo.json.messages.every((m: any) => m.method === 'tools/call')).toBe(true);
    // Filtered pages: the cursor is the next matching message.
    const calls: number[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const p = await call(stdio, 'show_session', { session: ids.everything, filter: 'method:tools/call dir:c2s', limit: 10, cursor });
      expect(p.json.messages.length).toBeLessThanOrEqual(10);
      calls.push(...p.json.messages.map((m: any) => m.seq));
      if (!p.json.more) break;
      cursor = p.json.more;
    }
    expect(calls).toEqual(echo.json.messages.map((m: any) => m.seq));
    // The long call's text is cut, its length said.
    const long = echo.json.messages[30];
    expect(JSON.stringify(long.payload)).toContain('[cut by mcptap mcp: 6000 characters in all]');
    const capped = await call(stdio, 'show_session', { session: ids.everything, limit: 500, maxBytes: 3000 });
    expect(capped.text.length).toBeLessThanOrEqual(3000);
    expect(capped.json.cutByBytes).toBe(true);
    expect(Number(capped.json.more)).toBe(capped.json.messages[capped.json.messages.length - 1].seq + 1);
    // Claude Code's tools/call carries the tool-use id in _meta: folded to its keys, unless asked for.
    const cc = { session: ids['echo-http/streamable-http'], filter: 'method:tools/call dir:c2s' };
    const folded = (await call(stdio, 'show_session', cc)).json.messages[0].payload.params._meta;
    expect(folded.folded).toContain('claudecode/toolUseId');
    const unfolded = (await call(stdio, 'show_session', { ...cc, unfoldMeta: true })).json.messages[0].payload.params._meta;
    expect(unfolded['claudecode/toolUseId']).toMatch(/^toolu_/);
    const initialize = (await call(stdio, 'show_session', { session: ids.everything, filter: 'method:initialize', limit: 5 })).json.messages[0];
    expect(initialize.summary).toMatch(/^mcp-test|^claude-code/);
  });

  it('check_session: the no-such-tool conversation has its finding; the clean everything run has none', async () => {
    const bad = await call(stdio, 'check_session', { session: ids['no-such-tool/model-api'] });
    expect(bad.isError).toBe(false);
    expect(bad.json.findings.map((f: any) => f.ruleId)).toContain('model-unknown-tool');
    expect(bad.json.findings[0].fix).toBeTruthy();
    const clean = await call(stdio, 'check_session', { session: ids.everything });
    expect(clean.json.verdict).toBe('no findings');
    expect(clean.json.findings).toEqual([]);
    // With no session: the newest.
    expect((await call(stdio, 'check_session')).json.session.id).toBe(ids.everything);
  });

  it('conversation: turns, the tool use linked to its MCP call, and the context cost per MCP server', async () => {
    const c = await call(stdio, 'conversation', { session: ids['echo-http/model-api'] });
    expect(c.isError).toBe(false);
    expect(c.json.totalTurns).toBe(2);
    const [t1] = c.json.turns;
    expect(t1.toolUses[0]).toMatchObject({ name: 'mcp__srv__echo', mcpCall: { session: ids['echo-http/streamable-http'] }, linkedBy: 'tool-use-id' });
    const parts = t1.contextCost.parts.map((p: any) => p.name);
    expect(parts).toEqual(['system', 'messages', 'built-in tools', 'mcp__srv']);
    expect(c.json.contextSummary[0]).toMatch(/^mcp__srv: \d+ tools, ~[\d.]+k? tokens, [\d.]+% of the first request$/);
    const wrong = await call(stdio, 'conversation', { session: ids.everything });
    expect(wrong.isError).toBe(true);
    expect(wrong.text).toContain('use show_session');
  });

  it('streams: the session\'s streams and no request left unanswered', async () => {
    const s = await call(stdio, 'streams', { session: ids.everything });
    expect(s.isError).toBe(false);
    expect(s.json.streams.length).toBeGreaterThan(0);
    expect(s.json.requestsUnanswered).toEqual([]);
  });

  it('search: the filter language across sessions, paged', async () => {
    const r = await call(stdio, 'search', { filter: 'tool:echo dir:c2s', limit: 20 });
    expect(r.json.matches).toHaveLength(20);
    expect(r.json.more).toMatch(new RegExp(`^${ids.everything}:\\d+$`));
    const rest = await call(stdio, 'search', { filter: 'tool:echo dir:c2s', limit: 100, cursor: r.json.more });
    const sessions = new Set([...r.json.matches, ...rest.json.matches].map((m: any) => m.session));
    expect(sessions).toEqual(new Set([ids.everything, ids['echo-http/streamable-http']]));
    expect(r.json.matches.length + rest.json.matches.length).toBe(32);
  });

  it('a recording resource is the session as mcptap export writes it', async () => {
    const r = await stdio.readResource({ uri: `mcptap://session/${ids.everything}/recording.jsonl` });
    const lines = (r.contents[0] as { text: string }).text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'mcptap-recording' });
    expect(lines.some((l) => l.type === 'message')).toBe(true);
  });

  it('bad arguments are tool errors, never a crash', async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['show_session', { session: 'zzzz' }, /no session matches 'zzzz'/],
      ['show_session', { session: '../etc' }, /is not a session id/],
      ['show_session', { session: ids.everything, filter: 'status:>>x' }, /filter/],
      ['show_session', { session: ids.everything, cursor: 'abc' }, /cursor 'abc' is not one this tool gave/],
      ['list_sessions', { since: 'yesterday-ish' }, /since must be/],
      ['list_sessions', { limit: 'ten' }, /limit/],
      ['search', { filter: 'kind:error', cursor: 'nope' }, /cursor/],
      ['streams', {}, /session/],
    ];
    for (const [tool, args, msg] of cases) {
      const r = await call(stdio, tool, args);
      expect(r.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(r.text).toMatch(msg);
    }
    // Still answering.
    expect((await call(stdio, 'list_sessions')).isError).toBe(false);
  });
});

describe('mcptap mcp over Streamable HTTP', () => {
  it('answers the same tools, with the byte cap and tool errors', async () => {
    expect((await httpClient.listTools()).tools).toHaveLength(6);
    const l = await call(httpClient, 'list_sessions', { transport: 'model-api' });
    expect(l.json.total).toBe(2);
    const capped = await call(httpClient, 'show_session', { session: ids.everything, limit: 500, maxBytes: 2000 });
    expect(capped.text.length).toBeLessThanOrEqual(2000);
    expect(capped.json.more).not.toBeNull();
    const bad = await call(httpClient, 'check_session', { session: 'nope-nope' });
    expect(bad.isError).toBe(true);
  });

  it('refuses a Host that is not its own (a web page cannot read the captures by DNS rebinding)', async () => {
    const url = new URL((httpClient as unknown as { _transport: { _url: URL } })._transport._url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: url.port, path: '/mcp', method: 'POST', headers: { host: 'evil.example:80', 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    });
    expect(status).toBe(403);
  });
});

describe('mcptap mcp given bad input', () => {
  it('one line and exit 2: a damaged database, a bad transport or port', () => {
    const bad = path.join(self.dir, 'bad.db');
    fs.writeFileSync(bad, 'not a database at all, just text');
    const cases: Array<[string[], RegExp]> = [
      [['--db', bad], /^mcptap: cannot use database .*bad\.db/],
      [['--db', tmp.db, '--transport', 'sse'], /^mcptap: --transport must be stdio or http \(got 'sse'\)/],
      [['--db', tmp.db, '--transport', 'http', '--port', '70000'], /^mcptap: --port must be a whole number/],
    ];
    for (const [args, msg] of cases) {
      const r = spawnSync(process.execPath, [cli, 'mcp', ...args], { input: '', encoding: 'utf8', timeout: 15_000 });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });
});

describe('mcptap mcp before any capture', () => {
  it('starts with no database yet and answers each question with a tool error saying so', async () => {
    const c = new Client({ name: 'early', version: '1.0.0' });
    await c.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp', '--db', path.join(self.dir, 'later.db')], stderr: 'pipe' }));
    try {
      const r = await call(c, 'list_sessions');
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/no capture database at .*later\.db/);
      expect((await c.listResources()).resources).toEqual([]);
    } finally {
      await c.close();
    }
  });
});

describe('mcptap mcp through mcptap wrap', () => {
  it('its own traffic is recorded like any stdio server\'s', async () => {
    const c = new Client({ name: 'claude-code', version: '2.1.330' });
    await c.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'wrap', '--db', self.db, '--label', 'mcptap-mcp', '--', process.execPath, cli, 'mcp', '--db', tmp.db], stderr: 'pipe' }));
    const r = (await c.callTool({ name: 'list_sessions', arguments: { limit: 1 } })) as ToolAnswer;
    expect(JSON.parse(r.content[0].text).items[0].id).toBe(ids.everything);
    await c.close();
    const store = CaptureStore.open(self.db, { readonly: true });
    try {
      const s = store.listSessions().find((x) => x.label === 'mcptap-mcp')!;
      expect(s.transport).toBe('stdio');
      expect(s.serverInfo?.name).toBe('mcptap');
      expect(s.clientInfo?.name).toBe('claude-code');
      const calls = [...store.iterateMessages(s.id)].filter((m) => m.method === 'tools/call' && m.kind === 'request');
      expect(calls.map((m) => m.subject)).toEqual(['list_sessions']);
      expect(calls[0].correlatedSeq).not.toBeNull();
    } finally {
      store.close();
    }
  });
});
