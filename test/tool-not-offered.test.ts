import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { TurnReader } from '../src/store/turns-read.js';
import { runChecks, type Finding } from '../src/analysis/checks/engine.js';
import { connectClient, startJsonServer, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// tool-not-offered: a real SDK MCP server lists its tools through the proxy; model requests (to a
// stand-in model API, through the proxy) offer some of them. Each tool left out is told with the
// reason the wire shows. The clean counterparts (every listed tool offered; the Claude Code fixtures'
// runs) are in model-checks.test.ts, which counts every tool* finding.

const tmp = tempDb();
const closers: Array<() => Promise<void>> = [];
const LONG = 'describe_every_table_and_column_with_statistics_for_the_planner';
const found = new Map<string, Finding[]>();

const dbServer = () => {
  const server = new McpServer({ name: 'db', version: '1.0.0' });
  for (const name of ['query', 'list_schemas', 'db.explain', LONG]) {
    server.registerTool(name, { description: name }, async () => ({ content: [{ type: 'text' as const, text: 'ok' }] }));
  }
  return { server };
};
const tool = (name: string) => ({ name, description: name, input_schema: { type: 'object', properties: {} } });

beforeAll(async () => {
  const mcp = await startStreamableServer({ factory: dbServer });
  closers.push(mcp.close);
  const model: Peer = await startJsonServer((_body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'msg_1', type: 'message', model: 'm', stop_reason: 'end_turn', content: [{ type: 'text', text: 'ok' }] }));
  });
  closers.push(model.close);
  const mcpProxy = await startProxy({ target: mcp.url, port: 0, db: tmp.db, label: 'mcp', onWarning: () => {} });
  const modelProxy = await startProxy({ target: model.url, port: 0, db: tmp.db, label: 'model', onWarning: () => {} });
  const offer = (id: string, names: string[]) => fetch(modelProxy.url + '/v1/messages?beta=true', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test-0000', 'x-claude-code-session-id': id },
    body: JSON.stringify({ model: 'm', max_tokens: 10, tools: names.map(tool), messages: [{ role: 'user', content: 'hi' }] }),
  }).then((r) => r.text());
  // Each run lists the server's tools first, as a Claude Code process does when it starts (a conversation is
  // checked against its own run's MCP sessions, not an earlier run's).
  const list = async () => {
    const c = await connectClient('streamable-http', mcpProxy.url + '/mcp', { name: 'claude-code' });
    await c.client.listTools();
    await c.close();
  };
  try {
    await list();
    await offer('plain', ['Read', 'mcp__db__query']);
    await list();
    await offer('search', ['Read', 'ToolSearch', 'mcp__db__query']);
    await list();
    await offer('all', ['Read', 'mcp__db__query', 'mcp__db__list_schemas', 'mcp__db__db_explain']);
    await list();
    // A search's answer: the tool_result hands the model tool_reference blocks (the tools stay deferred).
    await fetch(modelProxy.url + '/v1/messages?beta=true', {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test-0000', 'x-claude-code-session-id': 'refs' },
      body: JSON.stringify({ model: 'm', max_tokens: 10, tools: [tool('Read'), tool('mcp__db__query')], messages: [
        { role: 'user', content: 'find a tool' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_s', name: 'Read', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_s', content: [{ type: 'tool_reference', tool_name: 'mcp__db__list_schemas' }] }] }] }),
    }).then((r) => r.text());
  } finally {
    await mcpProxy.close();
    await modelProxy.close();
  }
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    const turns = new TurnReader(store);
    for (const s of store.listSessions().filter((x) => x.transport === 'model-api')) {
      found.set(s.mcpSessionId!, runChecks({ session: s, messages: [], exchanges: store.exchanges(s.id), conversation: turns.context(s) }).filter((f) => f.ruleId === 'tool-not-offered'));
    }
  } finally {
    store.close();
  }
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  tmp.cleanup();
});

describe('tool-not-offered', () => {
  it('a name the API would reject, and a tool left out with no reason on the wire', () => {
    const fs = [...found.get('plain')!].sort((a, b) => b.title.localeCompare(a.title));
    expect(fs.map((f) => [f.severity, f.title])).toEqual([
      ['warning', expect.stringMatching(/^2 tools of MCP session [0-9a-f]{12} never offered to the model: 'mcp__db__db\.explain', 'mcp__db__describe_every/)],
      ['warning', expect.stringMatching(/^1 tool of MCP session [0-9a-f]{12} never offered to the model: 'mcp__db__list_schemas'$/)],
    ]);
    expect(fs[0].explanation).toContain("at most 64 characters of [a-zA-Z0-9_-]");
    expect(fs[0].fix).toContain('64 characters');
    expect(fs[1].explanation).toContain('the wire shows no reason');
    expect(fs[1].explanation).toMatch(/MCP session [0-9a-f]{12} \(db\) lists 4 tools/);
  });

  it('tool search in use: the tools left out are deferred (a note, not a fault)', () => {
    const fs = found.get('search')!;
    const search = fs.find((f) => f.severity === 'info')!;
    expect(search.title).toMatch(/1 tool of MCP session [0-9a-f]{12} never offered to the model: 'mcp__db__list_schemas'/);
    expect(search.explanation).toContain('(tool search: ToolSearch)');
    expect(search.fix).toContain('ENABLE_TOOL_SEARCH=false');
  });

  it('tool_reference blocks in the results: tool search, told as such', () => {
    const search = found.get('refs')!.find((f) => f.severity === 'info')!;
    expect(search.explanation).toContain('(tool search: tool_reference results)');
  });

  it('every listed tool offered (a name with odd characters offered with them replaced): no finding, except the over-long name', () => {
    const fs = found.get('all')!;
    expect(fs.map((f) => f.title)).toEqual([expect.stringMatching(/^1 tool of MCP session [0-9a-f]{12} never offered to the model: 'mcp__db__describe_every_table/)]);
  });
});
