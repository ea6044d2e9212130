import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { listen } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { RECORDING_VERSION } from '../src/store/jsonl.js';
import { clientRequests, readRun, replayHandler, sendRecorded, type Run } from './helpers/claude-fixtures.js';

// The commands people read conversations with, over a database the proxy wrote from the fixtures'
// real Claude Code traffic: sessions, show (text and the documented --json), check, export/import, diff.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 15_000, env: { ...process.env, MCPTAP_DB: tmp.db } });
const ids: Record<string, { conv: string; mcp: string }> = {};

beforeAll(async () => {
  for (const r of ['echo-http', 'no-such-tool'] as Run[]) {
    const l = await listen(http.createServer(replayHandler(readRun(r, 'model'), readRun(r, 'mcp'))));
    const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: r, onWarning: () => {} });
    for (const { ex } of clientRequests(r)) await sendRecorded(p.url, ex);
    await p.close();
    await l.close();
  }
  const list = JSON.parse(run('sessions', '--json').stdout) as Array<{ id: string; label: string; transport: string }>;
  for (const r of ['echo-http', 'no-such-tool']) {
    ids[r] = { conv: list.find((s) => s.label === r && s.transport === 'model-api')!.id, mcp: list.find((s) => s.label === r && s.transport === 'streamable-http')!.id };
  }
});
afterAll(() => tmp.cleanup());

describe('mcptap sessions / show on conversations', () => {
  it('sessions lists each conversation with api, model, turns, tool uses, linked and errors', () => {
    const list = JSON.parse(run('sessions', '--json').stdout);
    expect(list.find((s: { id: string }) => s.id === ids['echo-http'].conv).conversation).toEqual({ api: 'anthropic-messages', model: 'claude-fake', turns: 2, toolUses: 1, linked: 1, errors: 0 });
    expect(list.find((s: { id: string }) => s.id === ids['no-such-tool'].conv).conversation).toEqual({ api: 'anthropic-messages', model: 'claude-fake', turns: 2, toolUses: 1, linked: 0, errors: 1 });
    const text = run('sessions').stdout;
    expect(text).toMatch(new RegExp(`${ids['echo-http'].conv}\\s+echo-http\\s+model-api\\s+claude-fake 1 uses, 1 linked\\s+anthropic`));
  });

  it('show --json has the documented shape, each tool use with its MCP call and result', () => {
    const r = run('show', ids['echo-http'].conv, '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['session', 'turns']);
    expect(out.turns).toHaveLength(2);
    const [t1, t2] = out.turns;
    expect(Object.keys(t1)).toEqual(['seq', 'ts', 'api', 'model', 'stopReason', 'usage', 'toolsOffered', 'toolUses', 'toolResults', 'error', 'contextCost']);
    expect(t1.toolUses).toEqual([{ id: expect.stringMatching(/^toolu_/), name: 'mcp__srv__echo', input: { message: 'hello from fixture' },
      mcpCall: { session: ids['echo-http'].mcp, seq: expect.any(Number) }, linkedBy: 'tool-use-id', result: { isError: false, text: 'Echo: hello from fixture' } }]);
    expect(t2.toolResults).toEqual([{ toolUseId: t1.toolUses[0].id, isError: false, text: 'Echo: hello from fixture' }]);
    // The seq is that of the tools/call request in the MCP session.
    const mcp = JSON.parse(run('show', ids['echo-http'].mcp, '--json').stdout);
    expect(mcp.messages.find((m: { seq: number }) => m.seq === t1.toolUses[0].mcpCall.seq)).toMatchObject({ method: 'tools/call', kind: 'request' });
  });

  it('show prints each tool use with where it went', () => {
    const ok = run('show', ids['echo-http'].conv).stdout;
    expect(ok).toContain(`mcp__srv__echo({"message":"hello from fixture"})  → ${ids['echo-http'].mcp}:`);
    expect(ok).toContain('(by tool-use id)  Echo: hello from fixture');
    const bad = run('show', ids['no-such-tool'].conv).stdout;
    expect(bad).toContain('mcp__srv__echo({"message":"hello from fixture"})  → no MCP call');
    expect(bad).toContain('(is_error): <tool_use_error>Error: No such tool available: mcp__srv__echo</tool_use_error>');
  });

  it('check exits 1 with the model-unknown-tool error', () => {
    const r = run('check', ids['no-such-tool'].conv, '--format', 'json');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('model-unknown-tool');
    expect(r.stdout).toContain('mcp__srv__db_main-echo');
  });
});

describe("a conversation's length and search", () => {
  it('LENGTH spans the turns (a conversation has no JSON-RPC messages): first turn to the end of the last', () => {
    const list = JSON.parse(run('sessions', '--json').stdout) as Array<{ id: string; lengthMs: number }>;
    const turns = JSON.parse(run('show', ids['echo-http'].conv, '--json').stdout).turns as Array<{ ts: string | number }>;
    const at = (t: string | number) => (typeof t === 'number' ? t : Date.parse(t));
    const length = list.find((s) => s.id === ids['echo-http'].conv)!.lengthMs;
    expect(length).toBeGreaterThan(0);
    expect(length).toBeGreaterThanOrEqual(at(turns[1].ts) - at(turns[0].ts));
    expect(run('sessions').stdout.split('\n').find((l) => l.startsWith(ids['echo-http'].conv))).not.toMatch(/\s0(\.00)?ms$/);
  });

  it('search "No such tool" finds the tool result Claude Code sent the model (the README\'s example)', () => {
    const r = run('search', 'No such tool', '--json');
    expect(r.status).toBe(0);
    const hits = JSON.parse(r.stdout) as Array<{ session: string; kind: string; seq: number; summary: string }>;
    expect(hits).toEqual([expect.objectContaining({ session: ids['no-such-tool'].conv, kind: 'tool-result', seq: 2, summary: expect.stringContaining('No such tool available: mcp__srv__echo') })]);
    expect(run('search', 'No such tool').stdout).toContain(`${ids['no-such-tool'].conv}  turn   2`);
  });
});

describe('export / import / diff of conversations', () => {
  it('a JSONL recording carries the turns and blobs; imported with its MCP session, the join holds', () => {
    const conv = path.join(tmp.dir, 'conv.jsonl');
    const mcp = path.join(tmp.dir, 'mcp.jsonl');
    expect(run('export', ids['echo-http'].conv, '-o', conv).status).toBe(0);
    expect(run('export', ids['echo-http'].mcp, '-o', mcp).status).toBe(0);
    const lines = fs.readFileSync(conv, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'mcptap-recording', version: RECORDING_VERSION });
    expect(lines.filter((l) => l.type === 'turn')).toHaveLength(2);
    expect(lines.filter((l) => l.type === 'blob').length).toBeGreaterThanOrEqual(3);
    const other = tempDb();
    try {
      const r = (...a: string[]) => spawnSync(process.execPath, [cli, ...a, '--db', other.db], { encoding: 'utf8', timeout: 15_000 });
      expect(r('import', mcp).status).toBe(0);
      const imported = JSON.parse(r('import', conv, '--json').stdout);
      const original = JSON.parse(run('show', ids['echo-http'].conv, '--json').stdout);
      const again = JSON.parse(r('show', imported.id, '--json').stdout);
      expect(again.turns).toEqual(original.turns);
      expect(r('diff', conv, imported.id).status).toBe(0);
    } finally {
      other.cleanup();
    }
  });

  it('export to a file counts a conversation in turns, not in MCP messages', () => {
    const out = path.join(tmp.dir, 'conv.har');
    const r = run('export', ids['no-such-tool'].conv, '--format', 'har', '-o', out);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`wrote session ${ids['no-such-tool'].conv} (2 turns) to ${out}\n`);
  });

  it('HAR has the decoded turn on each entry and the request body whole again', () => {
    const har = JSON.parse(run('export', ids['no-such-tool'].conv, '--format', 'har').stdout);
    expect(har.log.entries).toHaveLength(2);
    const [e1, e2] = har.log.entries;
    expect(e1._mcptapTurn.toolUses[0]).toMatchObject({ name: 'mcp__srv__echo', mcpCall: null });
    expect(e2._mcptapTurn.toolResults[0].isError).toBe(true);
    const body = JSON.parse(e1.request.postData.text);
    expect(body.tools).toHaveLength(34);
    expect(body.system[1].text).toContain('Claude Agent SDK');
    expect(JSON.stringify(har)).not.toContain('sk-ant-fixture-key-0000');
  });

  it('diff of two conversations compares tool uses per turn; a conversation and an MCP session do not compare', () => {
    const d = run('diff', ids['echo-http'].conv, ids['no-such-tool'].conv, '--json');
    expect(d.status).toBe(1);
    const out = JSON.parse(d.stdout);
    expect(out.turns[0].toolsAdded).toContain('mcp__srv__db_main-echo');
    expect(out.turns[0].toolsRemoved).toContain('mcp__srv__echo');
    expect(out.turns[0].toolUses).toBeNull();
    const mixed = run('diff', ids['echo-http'].conv, ids['echo-http'].mcp);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toContain('not one of each');
  });
});
