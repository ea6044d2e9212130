import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { TurnReader } from '../src/store/turns-read.js';
import { runChecks, type Finding } from '../src/analysis/checks/engine.js';
import { attachLiveChecks } from '../src/analysis/checks/live.js';
import { connectClient, listen, startJsonServer, startPlainToolsServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';
import { clientRequests, readRun, replayHandler, sendRecorded, type Run } from './helpers/claude-fixtures.js';

// The model-* rules over conversations captured through the proxy: the fixtures' real Claude Code
// runs, and purpose-built model API peers for what the fixtures do not show.

const tmp = tempDb();
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  tmp.cleanup();
});

function findingsByConversation(db: string): Map<string, Finding[]> {
  const store = CaptureStore.open(db, { readonly: true });
  try {
    const turns = new TurnReader(store);
    const out = new Map<string, Finding[]>();
    for (const s of store.listSessions().filter((x) => x.transport === 'model-api')) {
      out.set(s.label ?? s.id, runChecks({ session: s, messages: [], exchanges: store.exchanges(s.id), conversation: turns.context(s) }));
    }
    return out;
  } finally {
    store.close();
  }
}

const modelFindings = (fs: Finding[]) => fs.filter((f) => f.ruleId.startsWith('model-') || f.ruleId.startsWith('tool'));

describe('the Claude Code fixtures', () => {
  const runs: Run[] = ['echo-http', 'gateway-prefixed', 'no-such-tool'];
  let found: Map<string, Finding[]>;
  beforeAll(async () => {
    for (const run of runs) {
      const l = await listen(http.createServer(replayHandler(readRun(run, 'model'), readRun(run, 'mcp'))));
      closers.push(l.close);
      const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: run, onWarning: () => {} });
      for (const { ex } of clientRequests(run)) await sendRecorded(p.url, ex);
      await p.close();
    }
    found = findingsByConversation(tmp.db);
  });

  it('no-such-tool: exactly one model-unknown-tool error, naming the offered mcp__srv__db_main-echo and the prefix', () => {
    const fs = found.get('no-such-tool')!;
    expect(fs.map((f) => [f.ruleId, f.severity])).toEqual([['model-unknown-tool', 'error']]);
    const f = fs[0];
    expect(f.title).toBe('the model called mcp__srv__echo, which the client does not have (closest offered: mcp__srv__db_main-echo)');
    expect(f.explanation).toContain("prefix 'db_main-'");
    expect(f.explanation).toContain('No such tool available: mcp__srv__echo');
    expect(f.explanation).toMatch(/MCP session [0-9a-f]{12} \(prefix-gateway\) lists 13 tools, not 'echo'/);
    expect(f.fix).toContain("'mcp__srv__db_main-echo'");
    expect(f.evidence.turnSeqs).toEqual([1, 2]);
  });

  it('the runs that worked have no model findings', () => {
    expect(modelFindings(found.get('echo-http')!)).toEqual([]);
    expect(modelFindings(found.get('gateway-prefixed')!)).toEqual([]);
  });
});

/** Anthropic Messages answers, scripted per request: the handler sees the parsed body. */
async function modelServer(answer: (body: any, res: http.ServerResponse) => void): Promise<Peer> {
  const p = await startJsonServer((body, res) => answer(body, res));
  closers.push(p.close);
  return p;
}

const json = (res: http.ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const tool = (name: string) => ({ name, description: name, input_schema: { type: 'object', properties: {} } });
async function postMessages(base: string, body: unknown, conversation: string): Promise<number> {
  const r = await fetch(base + '/v1/messages?beta=true', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test-secret-1234', 'x-claude-code-session-id': conversation }, body: JSON.stringify(body) });
  await r.text();
  return r.status;
}

describe('a result changed on its way to the model, and tools offered that the server no longer lists', () => {
  const db = tempDb();
  afterAll(() => db.cleanup());

  it('tool-result-mismatch and tools-offered-stale, across two proxies', async () => {
    const mcpServer = await startPlainToolsServer({ failingTool: 'query' });
    closers.push(mcpServer.close);
    const model = await modelServer((body, res) => {
      const last = body.messages[body.messages.length - 1];
      if (Array.isArray(last.content) && last.content[0]?.type === 'tool_result') json(res, 200, { id: 'msg_2', type: 'message', model: 'm', stop_reason: 'end_turn', content: [{ type: 'text', text: 'ok' }] });
      else json(res, 200, { id: 'msg_1', type: 'message', model: 'm', stop_reason: 'tool_use', content: [{ type: 'tool_use', id: 'toolu_q', name: 'mcp__db__query', input: { sql: 'select 1' } }] });
    });
    const mcpProxy = await startProxy({ target: mcpServer.url, port: 0, db: db.db, label: 'mcp', onWarning: () => {} });
    const modelProxy = await startProxy({ target: model.url, port: 0, db: db.db, label: 'model', onWarning: () => {} });
    try {
      const c = await connectClient('streamable-http', mcpProxy.url + '/mcp', { name: 'claude-code' });
      await c.client.listTools();
      const tools = [tool('Read'), tool('mcp__db__list_schemas'), tool('mcp__db__query')];
      const first = [{ role: 'user', content: 'run select 1' }];
      await postMessages(modelProxy.url, { model: 'm', max_tokens: 10, tools, messages: first }, 'conv-1');
      const r = await c.client.callTool({ name: 'query', arguments: { sql: 'select 1' }, _meta: { 'claudecode/toolUseId': 'toolu_q' } });
      expect(r.isError).toBe(true);
      await postMessages(modelProxy.url, { model: 'm', max_tokens: 10, tools, messages: [...first,
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_q', name: 'mcp__db__query', input: { sql: 'select 1' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_q', content: 'relation "x" does not exist', is_error: false }] }] }, 'conv-1');
      await c.close();
    } finally {
      await mcpProxy.close();
      await modelProxy.close();
    }
    const fs = modelFindings(findingsByConversation(db.db).get('model')!);
    expect(fs.map((f) => [f.ruleId, f.severity, f.title])).toEqual([
      ['tool-result-mismatch', 'warning', 'mcp__db__query: the MCP server answered isError: true, the model was told success'],
      ['tools-offered-stale', 'warning', expect.stringContaining('the tools offered as mcp__db__* differ from MCP session')],
    ]);
    expect(fs[1].explanation).toContain("Listed but not offered: 'echo'");
  });
});

describe('model API error answers', () => {
  const db = tempDb();
  afterAll(() => db.cleanup());

  it('401, 429, an overloaded stream and an over-long tool name, each named for what it is', async () => {
    const longName = 'mcp__a_rather_long_server_name__' + 'x'.repeat(40);
    const model = await modelServer((body, res) => {
      const kind = body.messages[0].content;
      if (kind === '401') json(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
      else if (kind === '429') json(res, 429, { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } });
      else if (kind === 'long') json(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'tools.0.custom.name: String should have at most 64 characters' } });
      else {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('event: message_start\ndata: {"type":"message_start","message":{"id":"msg_o","model":"m","usage":{"input_tokens":1}}}\n\nevent: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n');
      }
    });
    const p = await startProxy({ target: model.url, port: 0, db: db.db, onWarning: () => {} });
    try {
      for (const [i, kind] of ['401', '429', 'overloaded', 'long'].entries()) {
        await postMessages(p.url, { model: 'm', max_tokens: 10, stream: kind === 'overloaded', tools: kind === 'long' ? [tool(longName)] : [], messages: [{ role: 'user', content: kind }] }, `conv-${i}`);
      }
    } finally {
      await p.close();
    }
    const all = [...findingsByConversation(db.db).values()].flat();
    expect(all.map((f) => [f.ruleId, f.severity, f.title]).sort()).toEqual([
      ['model-api-error', 'error', 'the model API refused the key (401)'],
      ['model-api-error', 'warning', 'the model API is overloaded'],
      ['model-api-error', 'warning', 'the model API is rate-limiting (429)'],
      ['tool-name-too-long', 'error', `1 tool name over 64 characters: ${longName} (${longName.length})`],
    ]);
    expect(all.find((f) => f.ruleId === 'tool-name-too-long')!.fix).toContain("'a_rather_long_server_name'");
  });
});

describe('live (mcptap proxy --live-checks)', () => {
  it('prints the no-such-tool error once, while the traffic flows; a run that worked prints nothing', async () => {
    for (const run of ['no-such-tool', 'echo-http'] as Run[]) {
      const l = await listen(http.createServer(replayHandler(readRun(run, 'model'), readRun(run, 'mcp'))));
      closers.push(l.close);
      const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: null, onWarning: () => {} });
      const lines: string[] = [];
      const live = attachLiveChecks(p.engine.hub, (line) => lines.push(line), { debounceMs: 0 });
      try {
        for (const { ex } of clientRequests(run)) await sendRecorded(p.url, ex);
        if (run === 'no-such-tool') {
          await until(() => lines.some((x) => x.includes('model-unknown-tool')), 'the live finding');
          expect(lines.filter((x) => x.includes('[model-')).length).toBe(1);
          expect(lines.find((x) => x.includes('model-unknown-tool'))).toContain('closest offered: mcp__srv__db_main-echo');
        } else {
          // Closing ends every session, which asks for a round over all of them: the last word.
          const before = live.stats().rounds;
          await p.close();
          await until(() => live.stats().rounds > before, 'the round after the sessions ended');
          expect(lines.filter((x) => x.includes('[model-') || x.includes('[tool-'))).toEqual([]);
        }
      } finally {
        live.stop();
        await p.close();
      }
    }
  });
});
