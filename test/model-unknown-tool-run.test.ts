import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { connectClient, echoServer, listen, streamableHandler } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { CLAUDE_CODE_UA } from './helpers/check-scenarios.js';
import { clientRequests, readRun, replayHandler, sendRecorded } from './helpers/claude-fixtures.js';

// model-unknown-tool cites the run's own MCP sessions only. An earlier run through the same proxy failed to
// connect (--transport sse at a Streamable HTTP /mcp/, sessions that never completed a handshake) and had its
// conversation; then the no-such-tool run (real Claude Code traffic: the gateway lists db_main-echo, the model
// calls mcp__srv__echo). Its finding names the session that listed the prefixed tools, not the earlier failures.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--db', tmp.db], { encoding: 'utf8', timeout: 30_000 });
const ids = { failed: [] as string[], mcp: '', conv: '' };

beforeAll(async () => {
  const mcp = streamableHandler(echoServer, '/mcp/');
  const model = replayHandler(readRun('gateway-prefixed', 'model'), []);
  const both = await listen(http.createServer((req, res) => ((req.url ?? '').startsWith('/v1/messages') ? model(req, res) : void mcp.handle(req, res))));
  const p = await startProxy({ target: `http://127.0.0.1:${both.port}`, port: 0, db: tmp.db, label: 'earlier', onWarning: () => {} });
  for (let i = 0; i < 2; i++) {
    await connectClient('sse', p.url + '/mcp/', { name: 'claude-code', headers: { 'user-agent': CLAUDE_CODE_UA } }).then((c) => c.close(), () => undefined);
  }
  for (const { ex } of clientRequests('gateway-prefixed').filter((r) => r.half === 'model')) await sendRecorded(p.url, ex);
  await p.close();
  await mcp.closeAll();
  await both.close();

  const l = await listen(http.createServer(replayHandler(readRun('no-such-tool', 'model'), readRun('no-such-tool', 'mcp'))));
  const p2 = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: 'this-run', onWarning: () => {} });
  for (const { ex } of clientRequests('no-such-tool')) await sendRecorded(p2.url, ex);
  await p2.close();
  await l.close();
  const list = JSON.parse(run('sessions', '--json').stdout) as Array<{ id: string; label: string; transport: string }>;
  ids.failed = list.filter((s) => s.label === 'earlier' && s.transport !== 'model-api').map((s) => s.id);
  ids.mcp = list.find((s) => s.label === 'this-run' && s.transport === 'streamable-http')!.id;
  ids.conv = list.find((s) => s.label === 'this-run' && s.transport === 'model-api')!.id;
});
afterAll(() => tmp.cleanup());

describe("model-unknown-tool cites the run's own sessions", () => {
  it('names the session that listed the prefixed tools, not an earlier run that never connected, and gives the LiteLLM 1.77.3 fix', () => {
    expect(ids.failed.length).toBeGreaterThan(0);
    const r = run('check', ids.conv, '--format', 'json');
    const out = JSON.parse(r.stdout) as Array<{ findings: Array<{ ruleId: string; explanation: string; fix: string }> }>;
    const f = out.flatMap((s) => s.findings).find((x) => x.ruleId === 'model-unknown-tool')!;
    expect(f.explanation).toContain(`MCP session ${ids.mcp}`);
    expect(f.explanation).toMatch(/lists \d+ tools, not 'echo': 'db_main-echo'/);
    for (const id of ids.failed) expect(f.explanation).not.toContain(id);
    expect(f.fix).toContain("Use the name the client offers, 'mcp__srv__db_main-echo'");
    expect(f.fix).toMatch(/1\.77\.0–1\.77\.3 .*always .*x-mcp-servers/);
    expect(f.fix).not.toMatch(/scope the key or URL to one server/);
  });
});
