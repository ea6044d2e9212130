import { execFileSync, spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { listen } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';
import { clientRequests, readRun, replayHandler, sendRecorded } from './helpers/claude-fixtures.js';

// The conversation view in a real terminal (tmux), over the fixtures' echo-http run captured through
// the proxy: the turns, the tool use with its MCP call and answer, Enter to that call in its session's
// timeline (marked as caused by the turn), and back.

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const tmp = tempDb();
const name = `mcptap-conv-${process.pid}`;
const cli = path.resolve('dist/src/cli/main.js');
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', name);
async function see(text: string): Promise<string> {
  await until(() => screen().includes(text), `the screen to show ${text}`, 15_000).catch((e) => {
    throw new Error(`${e.message}; the screen was:\n${screen()}`);
  });
  return screen();
}
let conv = '';
let mcp = '';

beforeAll(async () => {
  if (!hasTmux) return;
  const l = await listen(http.createServer(replayHandler(readRun('echo-http', 'model'), readRun('echo-http', 'mcp'))));
  const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, onWarning: () => {} });
  for (const { ex } of clientRequests('echo-http')) await sendRecorded(p.url, ex);
  await p.close();
  await l.close();
  const store = CaptureStore.open(tmp.db, { readonly: true });
  conv = store.listSessions().find((s) => s.transport === 'model-api')!.id;
  mcp = store.listSessions().find((s) => s.transport === 'streamable-http')!.id;
  store.close();
});

afterAll(() => {
  if (hasTmux) spawnSync('tmux', ['kill-session', '-t', name]);
  tmp.cleanup();
});

describe.skipIf(!hasTmux)('the conversation view', () => {
  it('shows the turns and the tool use with its MCP call; Enter opens the call, marked, and back returns', { timeout: 60_000 }, async () => {
    tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '30', `TERM=xterm-256color NO_COLOR=1 ${process.execPath} ${cli} tui --db ${tmp.db}; sleep 30`);
    await see('model API');
    const tty = tmux('display-message', '-p', '-t', name, '#{pane_tty}').trim();
    await until(() => /(^|\s)-icanon(\s|$)/.test(execFileSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' })), 'raw mode', 15_000);
    // The newest session (the conversation) is selected at start.
    tmux('send-keys', '-t', name, 'Enter');
    await see(`conversation ${conv} · 2 turns · 1 tool uses, 1 linked`);
    tmux('send-keys', '-t', name, 'k');
    const turn1 = await see(`→ MCP ${mcp}:`);
    expect(turn1).toContain('⚙ mcp__srv__echo {"message":"hello from fixture"}');
    expect(turn1).toContain('← Echo: hello from fixture');
    // What the request spent its context on, and the MCP server's share of it.
    expect(turn1).toMatch(/context 85\.\dK/);
    expect(turn1).toMatch(/mcp__srv: 16 tools, ~2\.0k tokens, [78]\.\d% of this request/);
    expect(turn1).toContain('linked by tool-use id');
    tmux('send-keys', '-t', name, 'Enter');
    const timeline = await see('◆ 1 tools/call caused by a model turn · this one: turn 1 of conversation');
    expect(timeline).toContain(`session ${mcp}`);
    expect(timeline).toMatch(/◆\s+\d+ \S+\s+→ request\s+tools\/call echo/);
    tmux('send-keys', '-t', name, 'Escape');
    // (The timeline names the conversation too: wait for the conversation's own header.)
    await see(`conversation ${conv} · 2 turns`);
    tmux('send-keys', '-t', name, 'Escape');
    await see('· sessions');
    expect(screen()).toContain(conv);
  });
});
