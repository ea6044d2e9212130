import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TurnReader } from '../../src/store/turns-read.js';
import { pins } from './peers.js';
import { INIT, rpc, send, startStack, type Stack } from './stack.js';
import { MODEL } from './litellm.js';
import { factsFor } from './facts.js';

// /work/shared/LITELLM.md's wire facts, checked against each pinned LiteLLM through `mcptap proxy`: what
// the facts table (facts.ts) says per version is what the real proxy answers here.

const names = (a: { json: any }) => (a.json?.result?.tools ?? []).map((t: { name: string }) => t.name).sort();
const text = (a: { json: any }) => a.json?.result?.content?.[0]?.text as string | undefined;

describe.each(pins().litellm)('LiteLLM %s through mcptap', (version) => {
  const f = factsFor(version);
  let s: Stack;
  let mcp: string;
  beforeAll(async () => {
    s = await startStack(version);
    mcp = s.proxy.url + '/mcp/';
  });
  afterAll(async () => s?.close());

  it('answers initialize as litellm-mcp-server (JSON and stateless in 1.77, an event stream with a session id later)', async () => {
    const a = await send(mcp, { body: rpc('initialize', INIT) });
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toMatch(f.mcpContentType);
    expect(a.json.result.serverInfo.name).toBe('litellm-mcp-server');
    expect(a.headers.get('mcp-session-id') != null).toBe(f.issuesSessionId);
  });

  it('redirects POST /mcp to /mcp/ with 307 (the Location kept on the proxy)', async () => {
    const a = await send(s.proxy.url + '/mcp', { body: rpc('initialize', INIT) });
    expect(a.status).toBe(f.bareMcpStatus);
    if (f.bareMcpStatus === 307) expect(a.headers.get('location')).toBe(`${s.proxy.url}/mcp/`);
  });

  it('prefixes tool names by version and scope', async () => {
    const one = await send(mcp, { body: rpc('tools/list'), headers: { 'x-mcp-servers': 'db_main' } });
    expect(one.status).toBe(200);
    expect(names(one)).toEqual(f.singleServerPrefixed
      ? ['db_main-echo', 'db_main-execute_sql', 'db_main-explode', 'db_main-list_schemas']
      : ['echo', 'execute_sql', 'explode', 'list_schemas']);
    const byPath = await send(s.proxy.url + '/mcp/db_main', { body: rpc('tools/list') });
    expect(names(byPath)).toEqual(names(one));
    const all = await send(mcp, { body: rpc('tools/list') });
    expect(names(all)).toHaveLength(8);
    expect(names(all).every((n: string) => /^(db_main|files)-/.test(n))).toBe(true);
    // The REST listing has no server filter: every server, prefixed.
    const rest = await send(s.proxy.url + '/v1/mcp/tools');
    expect(rest.status).toBe(200);
    expect(rest.json.tools.map((t: { name: string }) => t.name)).toContain('db_main-list_schemas');
  });

  it('serves the older /<server>/mcp route only where the version has it', async () => {
    const a = await send(s.proxy.url + '/db_main/mcp', { body: rpc('tools/list') });
    expect(a.status).toBe(f.serverSlashMcpStatus);
  });

  it('falls back to every server (1.77) or refuses (later) for an x-mcp-servers value or a path server that matches none', async () => {
    const typo = await send(mcp, { body: rpc('tools/list'), headers: { 'x-mcp-servers': 'db-mian' } });
    expect(typo.status).toBe(f.unknownServerStatus);
    const path = await send(s.proxy.url + '/mcp/nosuch', { body: rpc('tools/list') });
    expect(path.status).toBe(f.unknownPathServerStatus);
    for (const a of [typo, path]) {
      if (f.unknownServerError) expect(a.json.error.message).toMatch(f.unknownServerError);
      else expect(names(a)).toHaveLength(8);
    }
  });

  it('passes an upstream error text on as a success, and masks a raised tool error as isError false where the version does', async () => {
    const sql = await send(mcp, { body: rpc('tools/call', { name: f.singleServerPrefixed ? 'db_main-execute_sql' : 'execute_sql', arguments: { sql: 'select * from missing' } }), headers: { 'x-mcp-servers': 'db_main' } });
    expect(sql.json.result).toMatchObject({ content: [{ type: 'text', text: 'Error: relation "missing" does not exist' }], isError: false });
    const raised = await send(mcp, { body: rpc('tools/call', { name: 'db_main-explode', arguments: {} }) });
    expect(text(raised)).toMatch(/the tool raised/);
    expect(raised.json.result.isError).toBe(f.raisedToolIsError);
  });

  it("answers an unknown tool with LiteLLM's own error text", async () => {
    const a = await send(mcp, { body: rpc('tools/call', { name: 'nosuch', arguments: {} }) });
    expect(a.status).toBe(200);
    expect(text(a)).toMatch(f.unknownToolText);
    expect(a.json.result.isError).toBe(f.unknownToolIsError);
  });

  it('routes an unprefixed tools/call where the version does', async () => {
    const a = await send(mcp, { body: rpc('tools/call', { name: 'echo', arguments: { message: 'x' } }), headers: { 'x-mcp-servers': 'db_main' } });
    expect(text(a)).toMatch(f.unprefixedCallText);
  });

  it('answers a method it has no handler for with -32601', async () => {
    const a = await send(mcp, { body: rpc('prompts/list') });
    expect(a.json.error?.code ?? null).toBe(f.promptsListError);
  });

  it('refuses a bad key on the MCP route (500 in 1.77, 400 "No connected db." later) and on REST routes with 400 no_db_connection (no database)', async () => {
    const bad = await send(mcp, { body: rpc('initialize', INIT), auth: { authorization: 'Bearer sk-wrong' } });
    expect(bad.status).toBe(f.badKeyMcpStatus);
    expect(bad.text).toMatch(f.badKeyMcpBody);
    const raw = await send(mcp, { body: rpc('initialize', INIT), auth: { 'x-litellm-api-key': 'sk-interop-master-1234' } });
    expect(raw.status).toBe(f.rawKeyMcpStatus);
    const rest = await send(s.proxy.url + '/v1/mcp/tools', { auth: { authorization: 'Bearer sk-wrong' } });
    expect(rest.status).toBe(400);
    expect(rest.json.error.type).toBe('no_db_connection');
    // The gateway still works for a good key afterwards.
    const good = await send(mcp, { body: rpc('initialize', INIT) });
    expect(good.status).toBe(200);
  });

  it("carries Claude Code's both halves on one proxy: /v1/messages through LiteLLM to the model API, and MCP", async () => {
    const tools = [{ name: 'mcp__litellm__db_main-echo', description: 'Echo', input_schema: { type: 'object', properties: { message: { type: 'string' } } } }];
    const before = s.modelApi.requests.length;
    const turn = await send(s.proxy.url + '/v1/messages', {
      body: { model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'echo hi' }], tools },
      headers: { 'anthropic-version': '2023-06-01', accept: 'text/event-stream' },
    });
    expect(turn.status).toBe(200);
    expect(turn.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(turn.text).toContain('"type":"tool_use"');
    expect(turn.text).toContain('mcp__litellm__db_main-echo');
    // LiteLLM routed it to the stand-in named by the model entry's api_base, tools passed through.
    const upstream = s.modelApi.requests.slice(before).find((r) => r.path.startsWith('/v1/messages'));
    expect(upstream?.body?.tools?.[0]?.name).toBe('mcp__litellm__db_main-echo');
    // The call Claude Code makes for that tool use carries its id, as Claude Code 2.1.330 does.
    const toolUseId = /"id":"(toolu_[A-Za-z0-9_]+)"/.exec(turn.text)?.[1];
    expect(toolUseId).toBe('toolu_01INTEROP');
    const call = await send(mcp, { body: rpc('tools/call', { name: 'db_main-echo', arguments: { message: 'hi' }, _meta: { 'claudecode/toolUseId': toolUseId } }), headers: { 'x-mcp-servers': 'db_main' } });
    expect(text(call)).toBe('db_main: hi');
    await s.proxy.flush();
    const store = s.store();
    try {
      const exchanges = store.listSessions().flatMap((x) => store.exchanges(x.id));
      expect(exchanges.some((e) => e.url.startsWith('/v1/messages') && e.status === 200)).toBe(true);
      expect(exchanges.some((e) => e.url === '/mcp/' && e.requestBody?.includes('db_main-echo'))).toBe(true);
      // Both halves joined: the model's tool use → the MCP tools/call it caused, through LiteLLM.
      const turns = new TurnReader(store);
      const uses = store.listSessions().filter((x) => x.transport === 'model-api').flatMap((x) => turns.conversation(x).turns.flatMap((t) => t.toolUses));
      const use = uses.find((u) => u.id === toolUseId);
      expect(use).toMatchObject({ name: 'mcp__litellm__db_main-echo', linkedBy: 'tool-use-id' });
      const linked = [...store.iterateMessages(use!.mcpCall!.session)].find((m) => m.seq === use!.mcpCall!.seq)!;
      expect(linked).toMatchObject({ method: 'tools/call', subject: 'db_main-echo' });
    } finally {
      store.close();
    }
  });

  it('answers a plain GET of /mcp/ (curl) as the version does, and keeps serving POSTs', async () => {
    const a = await send(mcp, { headers: { accept: '*/*' }, headOnly: f.plainGetStatus !== 406 });
    expect(a.status).toBe(f.plainGetStatus);
    if (f.plainGetStatus === 406) {
      const body = await send(mcp, { headers: { accept: '*/*' } });
      expect(body.json.error.message).toBe('Not Acceptable: Client must accept text/event-stream');
    }
    const after = await send(mcp, { body: rpc('initialize', INIT) });
    expect(after.status).toBe(200);
  });
});
