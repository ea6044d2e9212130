import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { TurnReader } from '../src/store/turns-read.js';
import { ContextCostReader } from '../src/store/context-read.js';
import { DEFAULT_BYTES_PER_TOKEN, splitTools, turnContextCost, type TurnContextCost } from '../src/analysis/context-cost.js';
import { runChecks } from '../src/analysis/checks/engine.js';
import { loadDiffInput } from '../src/analysis/input.js';
import { listen } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { clientRequests, fullSizeBody, readRun, replayHandler, RUNS, sendRecorded, type Run } from './helpers/claude-fixtures.js';

// The context cost of real Claude Code requests (the fixtures, sent through the proxy at their full
// size): the parts add up to the request as it went on the wire, each MCP server's tools are the bytes
// of its `mcp__<server>__*` definitions, and check warns only when they take more than the set share.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 15_000, env: { ...process.env, MCPTAP_DB: tmp.db } });
const convs = new Map<Run, string>();
const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

beforeAll(async () => {
  for (const r of RUNS) {
    const l = await listen(http.createServer(replayHandler(readRun(r, 'model'), readRun(r, 'mcp'))));
    const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: r, onWarning: () => {} });
    for (const { ex } of clientRequests(r)) await sendRecorded(p.url, ex);
    await p.close();
    await l.close();
  }
  const store = CaptureStore.open(tmp.db, { readonly: true });
  for (const s of store.listSessions()) if (s.transport === 'model-api') convs.set(s.label as Run, s.id);
  store.close();
});
afterAll(() => tmp.cleanup());

function costsOf(r: Run): TurnContextCost[] {
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    const reader = new TurnReader(store);
    const conv = reader.conversation(store.getSession(convs.get(r)!)!);
    return new ContextCostReader(reader).costs(conv.turns);
  } finally {
    store.close();
  }
}

describe('context cost on the Claude Code fixtures', () => {
  it.each(RUNS)('%s: the parts add up to the request as sent; each MCP server is its tools\' bytes', (r) => {
    const costs = costsOf(r);
    const sent = readRun(r, 'model');
    expect(costs).toHaveLength(sent.length);
    costs.forEach((c, i) => {
      const text = fullSizeBody(sent[i].requestBody);
      const body = JSON.parse(text);
      expect(c.requestBytes).toBe(utf8(text));
      // Within 1.5% of what Claude Code put on the wire (the fixture's elided texts restored as filler).
      expect(Math.abs(c.requestBytes - (sent[i] as unknown as { requestBodyOriginalBytes: number }).requestBodyOriginalBytes) / c.requestBytes).toBeLessThan(0.015);
      expect(c.parts.reduce((n, p) => n + p.bytes, 0)).toBe(c.requestBytes);
      const part = (name: string) => c.parts.find((p) => p.name === name)!;
      expect(part('system').bytes).toBe(utf8(JSON.stringify(body.system)));
      // The messages part is the rest of the body: the messages and the small members (model, metadata, thinking…).
      const rest = Object.entries(body).filter(([k]) => k !== 'system' && k !== 'tools');
      expect(part('messages').bytes).toBe(utf8(JSON.stringify(Object.fromEntries(rest))) + utf8(',"system":,"tools":'));
      const mcp = (body.tools as Array<{ name: string }>).filter((t) => t.name.startsWith('mcp__srv__'));
      expect(part('mcp__srv').tools).toBe(mcp.length);
      expect(part('mcp__srv').bytes).toBe(mcp.reduce((n, t) => n + utf8(JSON.stringify(t)) + 1, 0));
      expect(part('built-in tools').tools).toBe(body.tools.length - mcp.length);
      // The stand-in model's usage ("input_tokens": 1) is no count of this request: the default ratio is used, and said.
      expect(c.estimatedBy).toBe('default-ratio');
      expect(part('mcp__srv').tokens).toBe(Math.round(part('mcp__srv').bytes / DEFAULT_BYTES_PER_TOKEN));
    });
  });

  it('with a plausible usage (synthetic figures in the API\'s shape: no real usage is recorded here), the per-part estimates add up to it within 0.1%, rounding only', () => {
    const body = JSON.parse(fullSizeBody(readRun('echo-http', 'model')[0].requestBody));
    const tools = JSON.stringify(body.tools);
    const total = utf8(fullSizeBody(readRun('echo-http', 'model')[0].requestBody));
    // Usage as the Anthropic API reports it for a cached Claude Code turn: most input read from the cache.
    const usage = { input_tokens: 3, cache_creation_input_tokens: 2100, cache_read_input_tokens: 21800, output_tokens: 40 };
    const c = turnContextCost(1, total, utf8(JSON.stringify(body.system)), splitTools(tools), usage);
    expect(c.estimatedBy).toBe('usage-ratio');
    expect(c.usageTokens).toBe(23903);
    const sum = c.parts.reduce((n, p) => n + p.tokens, 0);
    expect(Math.abs(sum - 23903) / 23903).toBeLessThan(0.001);
  });

  it('show prints the cost per turn and a summary per MCP server; --json carries it', () => {
    const text = run('show', convs.get('echo-http')!).stdout;
    expect(text).toMatch(/context 85\.\dK, API usage 1 input tokens \(implausible for its size: not used\): system [\d.]+%, messages [\d.]+%, built-in tools [\d.]+%, mcp__srv 16 tools ~[\d.]+k tok [\d.]+%/);
    expect(text).toMatch(/^ {2}mcp__srv: 16 tools, ~[\d.]+k tokens, [78]\.\d% of the first request$/m);
    expect(text).toContain(`no plausible usage recorded to calibrate on`);
    const json = JSON.parse(run('show', convs.get('gateway-prefixed')!, '--json').stdout);
    expect(json.turns[0].contextCost.parts.find((p: { name: string }) => p.name === 'mcp__srv')).toMatchObject({ kind: 'mcp-server', tools: 13 });
    expect(json.turns[0].contextCost.heaviestTools[0].server).toBe('srv');
  });
});

describe('tools-context-cost', () => {
  const findings = (r: Run, toolsShare?: number) => {
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const s = store.getSession(convs.get(r)!)!;
      return runChecks({ ...loadDiffInput(s.id, store), conversation: new TurnReader(store).context(s) }, { toolsShare }).filter((f) => f.ruleId === 'tools-context-cost');
    } finally {
      store.close();
    }
  };

  it('clean at the default 20%: the real runs spend 6-8% of the request on MCP tools', () => {
    for (const r of RUNS) expect(findings(r)).toEqual([]);
  });

  it('above a lower share it warns, naming the server, the heaviest tools and the fixes', () => {
    const [f] = findings('echo-http', 0.05);
    expect(f.severity).toBe('warning');
    expect(f.title).toMatch(/^MCP tool definitions take [78]\.\d% of turn 1's request \(over 5\.0%\): mcp__srv 16 tools ~[\d.]+k tokens$/);
    expect(f.evidence.turnSeqs).toEqual([1, 2]);
    expect(f.explanation).toContain('Heaviest tools: mcp__srv__');
    expect(f.fix).toContain('tool search');
    const r = run('check', convs.get('echo-http')!, '--tools-share', '5');
    expect(r.stdout).toContain('[tools-context-cost]');
    expect(run('check', convs.get('echo-http')!).stdout).not.toContain('tools-context-cost');
    expect(run('check', '--tools-share', '0').status).toBe(2);
  });

  it('a toy request (three small tools) is no cost worth telling, whatever its share', () => {
    const tool = (name: string) => ({ name, description: name, input_schema: { type: 'object', properties: {} } });
    const tools = JSON.stringify([tool('Read'), tool('mcp__db__list_schemas'), tool('mcp__db__query')]);
    const c = turnContextCost(1, 400, 0, splitTools(tools), null);
    expect(c.mcpShare).toBeGreaterThan(0.2);
    const s = { id: 'conv', transport: 'model-api' } as never;
    expect(runChecks({ session: s, messages: [], exchanges: [], conversation: { turns: [], mcp: [], costs: [c] } })).toEqual([]);
  });
});
