import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { connectClient, echoServer, listen, streamableHandler } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { CLAUDE_CODE_UA } from './helpers/check-scenarios.js';
import { clientRequests, readRun, replayHandler, sendRecorded } from './helpers/claude-fixtures.js';

// `mcptap check` with no session checks the last run: the newest conversation with the MCP sessions it used.
// First a clean, complete run (the echo-http fixture: model and MCP halves as Claude Code sent them); then the
// seed's mistake: Claude Code added with --transport sse at a Streamable HTTP /mcp/ (its GETs refused) and a
// conversation through the same proxy, whose session is the newest. The verdict must be the refused transport.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--db', tmp.db], { encoding: 'utf8', timeout: 30_000 });
let first: { conv: string; mcp: string };

beforeAll(async () => {
  const l = await listen(http.createServer(replayHandler(readRun('echo-http', 'model'), readRun('echo-http', 'mcp'))));
  const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: 'clean', onWarning: () => {} });
  for (const { ex } of clientRequests('echo-http')) await sendRecorded(p.url, ex);
  await p.close();
  await l.close();

  // The last run: the MCP server (Streamable HTTP at /mcp/) and the model API behind one proxy.
  const mcp = streamableHandler(echoServer, '/mcp/');
  const model = replayHandler(readRun('gateway-prefixed', 'model'), []);
  const both = await listen(http.createServer((req, res) => ((req.url ?? '').startsWith('/v1/messages') ? model(req, res) : void mcp.handle(req, res))));
  const p2 = await startProxy({ target: `http://127.0.0.1:${both.port}`, port: 0, db: tmp.db, label: 'sse-mistake', onWarning: () => {} });
  for (let i = 0; i < 2; i++) {
    await connectClient('sse', p2.url + '/mcp/', { name: 'claude-code', headers: { 'user-agent': CLAUDE_CODE_UA } }).then((c) => c.close(), () => undefined);
  }
  for (const { ex } of clientRequests('gateway-prefixed').filter((r) => r.half === 'model')) await sendRecorded(p2.url, ex);
  await p2.close();
  await mcp.closeAll();
  await both.close();
  const list = JSON.parse(run('sessions', '--json').stdout) as Array<{ id: string; label: string; transport: string }>;
  first = { conv: list.find((s) => s.label === 'clean' && s.transport === 'model-api')!.id, mcp: list.find((s) => s.label === 'clean' && s.transport === 'streamable-http')!.id };
});
afterAll(() => tmp.cleanup());

describe('mcptap check with no session: the last run', () => {
  it("names the refused transport of the last run's MCP session, says which sessions it checked, and exits 1", () => {
    const list = JSON.parse(run('sessions', '--json').stdout) as Array<{ id: string; label: string; transport: string }>;
    const conv = list.find((s) => s.label === 'sse-mistake' && s.transport === 'model-api')!;
    const failed = list.filter((s) => s.label === 'sse-mistake' && s.transport !== 'model-api');
    expect(failed.length).toBeGreaterThan(0);
    const r = run('check');
    expect(r.stdout).toContain(`Checked the last run: conversation ${conv.id} and the MCP session`);
    for (const s of failed) expect(r.stdout).toContain(s.id);
    // The earlier, clean run is not part of it.
    expect(r.stdout).not.toContain(first.mcp);
    expect(r.stdout).not.toContain(first.conv);
    expect(r.stdout).toMatch(/ERROR\s+\[transport-mismatch\]/);
    expect(r.status).toBe(1);
  });

  it('--json carries the same sessions; --all and an id check what they name', () => {
    const json = JSON.parse(run('check', '--format', 'json').stdout) as Array<{ session: { id: string } }> | { sessions: Array<{ session: { id: string } }> };
    const ids = (Array.isArray(json) ? json : json.sessions).map((s) => s.session.id);
    expect(ids).not.toContain(first.conv);
    expect(ids.length).toBeGreaterThan(1);
    expect(run('check', first.mcp).status).toBe(0);
    expect(run('check', '--all').stdout).toContain(first.mcp);
  });
});
