import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { TurnReader } from '../src/store/turns-read.js';
import { runChecks, type Finding } from '../src/analysis/checks/engine.js';
import { connectClient, listen, startJsonServer, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { clientRequests, readRun, replayHandler, sendRecorded } from './helpers/claude-fixtures.js';

// tool-result-cut: a real SDK MCP server answers a large result through the proxy; the client side
// then does what Claude Code is documented to do with an MCP result over MAX_MCP_OUTPUT_TOKENS (there
// is no Claude Code to record here): the model gets a "too large" error, a pointer to a file, or the
// beginning of the text. A result passed whole, large or small, gives no finding.

const tmp = tempDb();
const closers: Array<() => Promise<void>> = [];
const ROWS = Array.from({ length: 2000 }, (_, i) => `row ${i}: ${'value '.repeat(10)}`).join('\n');
const found = new Map<string, Finding[]>();
const SIZE = Buffer.byteLength(ROWS, 'utf8');
const size = SIZE.toLocaleString('en-US');

const bigServer = () => {
  const server = new McpServer({ name: 'rows', version: '1.0.0' });
  server.registerTool('dump', { description: 'every row' }, async () => ({ content: [{ type: 'text' as const, text: ROWS }] }));
  server.registerTool('count', { description: 'how many rows' }, async () => ({ content: [{ type: 'text' as const, text: '2000 rows' }] }));
  return { server };
};

const tool = (name: string) => ({ name, description: name, input_schema: { type: 'object', properties: {} } });
const TOOLS = [tool('Read'), tool('mcp__rows__dump'), tool('mcp__rows__count')];

/** One conversation: turn 1 asks for `name`, the MCP call is made, turn 2 carries `back(result)` to the model. */
async function converse(modelUrl: string, mcpUrl: string, id: string, name: 'dump' | 'count', back: (text: string) => { content: string; is_error?: boolean }) {
  const useId = `toolu_${id}`;
  const post = (messages: unknown[]) => fetch(modelUrl + '/v1/messages?beta=true', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test-0000', 'x-claude-code-session-id': id },
    body: JSON.stringify({ model: 'm', max_tokens: 10, tools: TOOLS, messages, metadata: { use: useId, tool: name } }),
  }).then((r) => r.text());
  const first = [{ role: 'user', content: `call ${name}` }];
  await post(first);
  const c = await connectClient('streamable-http', mcpUrl, { name: 'claude-code' });
  const r = (await c.client.callTool({ name, arguments: {}, _meta: { 'claudecode/toolUseId': useId } })) as { content: Array<{ text: string }> };
  await c.close();
  await post([...first,
    { role: 'assistant', content: [{ type: 'tool_use', id: useId, name: `mcp__rows__${name}`, input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: useId, ...back(r.content[0].text) }] }]);
}

beforeAll(async () => {
  const mcp = await startStreamableServer({ factory: bigServer });
  closers.push(mcp.close);
  const model: Peer = await startJsonServer((body, res) => {
    const last = body.messages[body.messages.length - 1];
    const answer = Array.isArray(last.content) && last.content[0]?.type === 'tool_result'
      ? { id: 'msg_2', type: 'message', model: 'm', stop_reason: 'end_turn', content: [{ type: 'text', text: 'done' }] }
      : { id: 'msg_1', type: 'message', model: 'm', stop_reason: 'tool_use', content: [{ type: 'tool_use', id: body.metadata.use, name: `mcp__rows__${body.metadata.tool}`, input: {} }] };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  closers.push(model.close);
  const mcpProxy = await startProxy({ target: mcp.url, port: 0, db: tmp.db, label: 'mcp', onWarning: () => {} });
  const modelProxy = await startProxy({ target: model.url, port: 0, db: tmp.db, label: 'model', onWarning: () => {} });
  try {
    const m = mcpProxy.url + '/mcp';
    await converse(modelProxy.url, m, 'too-large', 'dump', () => ({
      content: 'MCP tool "dump" response (28571 tokens) exceeds maximum allowed tokens (25000). Please use pagination, filtering, or limit parameters to reduce the response size.', is_error: true }));
    await converse(modelProxy.url, m, 'file', 'dump', () => ({
      content: `Error: result (${size} characters) exceeds maximum allowed tokens. Output has been saved to /home/u/.claude/projects/p/tool-results/toolu_file.txt` }));
    await converse(modelProxy.url, m, 'cut', 'dump', (text) => ({ content: text.slice(0, 40_000) }));
    await converse(modelProxy.url, m, 'whole', 'dump', (text) => ({ content: text }));
    await converse(modelProxy.url, m, 'small', 'count', (text) => ({ content: text }));
  } finally {
    await mcpProxy.close();
    await modelProxy.close();
  }
  // The real Claude Code run with a result passed whole.
  const l = await listen(http.createServer(replayHandler(readRun('echo-http', 'model'), readRun('echo-http', 'mcp'))));
  const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: 'echo-http', onWarning: () => {} });
  for (const { ex } of clientRequests('echo-http')) await sendRecorded(p.url, ex);
  await p.close();
  await l.close();

  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    const turns = new TurnReader(store);
    for (const s of store.listSessions().filter((x) => x.transport === 'model-api')) {
      found.set(s.label === 'echo-http' ? 'echo-http' : s.mcpSessionId!, runChecks({ session: s, messages: [], exchanges: store.exchanges(s.id), conversation: turns.context(s) }));
    }
  } finally {
    store.close();
  }
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  tmp.cleanup();
});

const cut = (k: string) => found.get(k)!.filter((f) => f.ruleId === 'tool-result-cut');

describe('tool-result-cut', () => {
  it('a "too large" error instead of the result: both sizes, where, and the fix; the isError mismatch folded under it', () => {
    const fs = found.get('too-large')!;
    expect(fs.map((f) => f.ruleId)).toEqual(['tool-result-cut']);
    const [f] = fs;
    expect(f.severity).toBe('warning');
    expect(f.title).toBe(`mcp__rows__dump: the model got 162 of the ${size} bytes the MCP server answered (replaced by a "too large" error)`);
    expect(f.explanation).toMatch(new RegExp(`The MCP server answered the tools/call \\([0-9a-f]{12}:\\d+\\) with ${SIZE} bytes`));
    expect(f.explanation).toContain('in turn 2 holds 162 bytes and is marked is_error');
    expect(f.fix).toContain('MAX_MCP_OUTPUT_TOKENS');
    expect(f.fix).toContain('paging');
    expect(f.caused?.map((c) => c.ruleId)).toEqual(['tool-result-mismatch']);
  });

  it('a pointer to a file instead of the result', () => {
    expect(cut('file').map((f) => f.title)).toEqual([`mcp__rows__dump: the model got 146 of the ${size} bytes the MCP server answered (replaced by a pointer to a file)`]);
  });

  it('the beginning of the result only', () => {
    expect(cut('cut').map((f) => f.title)).toEqual([`mcp__rows__dump: the model got 40,000 of the ${size} bytes the MCP server answered (cut short: the model got its beginning)`]);
  });

  it('a result passed whole, large or small, and the real echo-http run: no finding', () => {
    expect(found.get('whole')).toEqual([]);
    expect(found.get('small')).toEqual([]);
    expect(found.get('echo-http')!.filter((f) => f.ruleId.startsWith('tool'))).toEqual([]);
  });
});
