import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../../src/proxy/server.js';
import { listen } from '../helpers/peers.js';
import { tempDb } from '../helpers/tmp.js';
import { clientRequests, readRun, replayHandler, sendRecorded } from '../helpers/claude-fixtures.js';
import { HERE, OFFLINE_ENV, venvProgram } from './peers.js';

// `mcptap mcp` driven by another real client: the MCP Python SDK's (mcp 1.x), over stdio and over
// Streamable HTTP, against a database the proxy filled from the Claude Code fixtures.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
let httpChild: ChildProcess | null = null;
let url = '';

beforeAll(async () => {
  for (const r of ['echo-http', 'no-such-tool'] as const) {
    const l = await listen(http.createServer(replayHandler(readRun(r, 'model'), readRun(r, 'mcp'))));
    const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: r, onWarning: () => {} });
    for (const { ex } of clientRequests(r)) await sendRecorded(p.url, ex);
    await p.close();
    await l.close();
  }
  const child = spawn(process.execPath, [cli, 'mcp', '--db', tmp.db, '--transport', 'http', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  httpChild = child;
  url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`mcptap mcp exited ${code}: ${err}`)));
  });
});

afterAll(async () => {
  if (httpChild && httpChild.exitCode == null) {
    const exited = new Promise((r) => httpChild!.once('exit', r));
    httpChild.kill('SIGTERM');
    await exited;
  }
  tmp.cleanup();
});

function ask(...args: string[]) {
  const python = venvProgram('.venv-mcp', 'python');
  const r = spawnSync(python, [path.join(HERE, 'mcp_client.py'), ...args], { encoding: 'utf8', timeout: 90_000, env: { ...process.env, ...OFFLINE_ENV } });
  if (r.status !== 0) throw new Error(`mcp_client.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe.each(['stdio', 'http'])('the Python SDK client over %s', (transport) => {
  it('lists the tools and resources, gets bounded answers, and bad arguments as tool errors', () => {
    const out = transport === 'stdio' ? ask('stdio', process.execPath, cli, tmp.db) : ask('http', url);
    expect(out.tools).toEqual(['check_session', 'conversation', 'list_sessions', 'search', 'show_session', 'streams']);
    const list = JSON.parse(out.calls.list_sessions[0].text);
    expect(list.total).toBe(4);
    expect(list.items).toHaveLength(2);
    expect(list.more).toBe('2');
    const check = JSON.parse(out.calls.check_session[0].text);
    expect(check.findings.map((f: { ruleId: string }) => f.ruleId)).toContain('model-unknown-tool');
    expect(out.calls.show_session[0]).toEqual({ isError: true, text: expect.stringContaining("no session matches 'no-such-session'") });
    expect(out.calls.list_sessions[1].isError).toBe(true);
    expect(out.resources).toHaveLength(4);
  });
});
