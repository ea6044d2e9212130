import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { connectClient, startGatewayLikeServer, startPlainToolsServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';
import { captureSession } from './helpers/capture.js';

// The real `mcptap tui` binary in a real terminal (tmux), on a database captured through the proxy.
// Keys go in with send-keys; the screen comes back with capture-pane.

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const tmp = tempDb();
const peers: Peer[] = [];
const name = `mcptap-e2e-${process.pid}`;
const cli = path.resolve('dist/src/cli/main.js');
const screensDir = path.join(process.env.MCPTAP_SCREENS_DIR ?? path.join(tmp.dir, 'screens'));
let reference = '';

const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', name);
const keys = (...k: string[]) => tmux('send-keys', '-t', name, ...k);
const typed = (text: string) => tmux('send-keys', '-t', name, '-l', text);
async function see(text: string | RegExp, what = String(text)): Promise<string> {
  await until(() => (typeof text === 'string' ? screen().includes(text) : text.test(screen())), `the screen to show ${what}`, 60_000)
    .catch((e) => {
      throw new Error(`${e.message}; the screen was:\n${screen()}`);
    });
  return screen();
}
const save = (file: string, text: string) => fs.writeFileSync(path.join(screensDir, file), text);

/**
 * Ink switches the terminal to raw mode just after its first frame; a key sent before that is read
 * in cooked mode and lost. Wait until the pane's tty really is raw.
 */
async function rawMode(session: string): Promise<void> {
  const tty = tmux('display-message', '-p', '-t', session, '#{pane_tty}').trim();
  await until(() => /(^|\s)-icanon(\s|$)/.test(execFileSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' })), 'raw mode', 60_000);
}

const capture = (peer: Peer, label: string, calls: Parameters<typeof captureSession>[3]) => captureSession(tmp.db, peer, label, calls);

beforeAll(async () => {
  if (!hasTmux) return;
  fs.mkdirSync(screensDir, { recursive: true });
  const plain = await startPlainToolsServer();
  const gw = await startGatewayLikeServer({ prefix: 'db_main-' });
  peers.push(plain, gw);
  reference = await capture(plain, 'direct', async (c) => {
    await c.listTools();
    await c.callTool({ name: 'list_schemas', arguments: {} });
    await c.callTool({ name: 'query', arguments: { sql: 'select 1' } });
  });
  await capture(gw, 'gateway', async (c) => {
    await c.listTools();
    await c.callTool({ name: 'list_schemas', arguments: {} }).catch(() => undefined);
    await c.callTool({ name: 'db_main-query', arguments: { sql: 'select 1' } });
  });
});

afterAll(async () => {
  if (hasTmux) spawnSync('tmux', ['kill-session', '-t', name]);
  for (const p of peers) await p.close();
  tmp.cleanup();
});

describe.skipIf(!hasTmux)('mcptap tui in a terminal', () => {
  it('opens, selects a session, filters, opens a message, plays back, diffs, and quits cleanly', { timeout: 180_000 }, async () => {
    tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', `TERM=xterm-256color NO_COLOR=1 ${process.execPath} ${cli} tui --db ${tmp.db} --reference ${reference}; echo "mcptap exited $?"; sleep 30`);
    save('sessions.txt', await see('claude-code → gateway'));
    await rawMode(name);
    keys('Enter');
    save('timeline.txt', await see('tools/call list_schemas'));
    keys('/');
    await see('filter: ▏');
    typed('method:tools/call');
    save('filter.txt', await see(/4 of 9 messages/, 'the filtered count'));
    // One send-keys: the three keys reach the app in one read, as a fast typist's or a paste's would.
    keys('Enter', 'g', 'Enter');
    save('detail.txt', await see('client→server request tools/call list_schemas'));
    keys('c');
    await see('"text": "MCP error -32602: Tool list_schemas not found"');
    keys('Escape');
    await see('filter: method:tools/call');
    keys('p');
    save('playback.txt', await see(/▶ playback (playing|at the end)/, 'playback'));
    keys('p');
    keys('d');
    save('diff.txt', await see("tools: tool names gained the prefix 'db_main-'"));
    expect(screen()).toMatch(/outcome: tools\/call list_schemas: result → isError/);
    keys('Escape');
    // An Escape and the next key read together are one Alt+key to a terminal app: wait for the timeline.
    await see('filter: method:tools/call');
    keys('!');
    save('problems.txt', await see('[unknown-tool]'));
    // The failed call's isError is a consequence of the wrong name: folded under it, and Enter shows it.
    expect(screen()).toContain('ERROR   ▸ +1 consequence [unknown-tool] tools/call list_schemas');
    expect(screen()).not.toContain('[tool-errors]');
    keys('Enter');
    save('problems-expanded.txt', await see('↳ warning [tool-errors] tools/call list_schemas returned isError'));
    expect(screen()).toContain('▾ +1 consequence');
    // Enter on the consequence jumps to its evidence, the failed call; Escape comes back.
    keys('Down', 'Enter');
    await see('client→server request tools/call list_schemas');
    keys('Escape');
    await see('[unknown-tool]');
    keys('q');
    const after = await see('mcptap exited 0');
    // The UI is gone and the shell's line follows: Ink gave the terminal back.
    expect(after).not.toContain('mcptap · ');
  });
});

describe.skipIf(!hasTmux)('mcptap tui at 80×24', () => {
  it('fits the smallest common terminal: header, rows and key hints all on screen', { timeout: 180_000 }, async () => {
    const small = `${name}-small`;
    tmux('new-session', '-d', '-s', small, '-x', '80', '-y', '24', `${process.execPath} ${cli} tui --db ${tmp.db}; sleep 30`);
    try {
      const cap = () => tmux('capture-pane', '-p', '-t', small);
      // Narrow: the transport is abbreviated so the server keeps its room.
      await until(() => /\bgateway\s+http\s/.test(cap()), 'the sessions list', 60_000);
      await rawMode(small);
      tmux('send-keys', '-t', small, 'Enter');
      await until(() => cap().includes('→ req   tools/call db_main-query '), 'the timeline, whole tool names', 60_000);
      const fits = (w: number, h: number) => {
        const lines = cap().replace(/\n+$/, '').split('\n');
        return lines.length <= h && lines.every((l) => l.length <= w) && /^ mcptap · .* · timeline/.test(lines[0]) && lines.some((l) => l.startsWith('Enter open') && l.includes('Esc back'));
      };
      expect(fits(80, 24)).toBe(true);
      // Every resize re-lays the screen out, growing or shrinking.
      tmux('resize-window', '-t', small, '-x', '120', '-y', '36');
      await until(() => fits(120, 36) && cap().includes('SIZE'), 'the 120×36 layout', 60_000);
      tmux('resize-window', '-t', small, '-x', '80', '-y', '24');
      await until(() => fits(80, 24) && !cap().includes('SIZE'), 'the 80×24 layout again', 60_000);
      tmux('send-keys', '-t', small, '?');
      await until(() => cap().includes('Keys'), 'the help', 60_000);
      expect(cap()).toContain('playback: start / stop');
    } finally {
      spawnSync('tmux', ['kill-session', '-t', small]);
    }
  });
});

describe.skipIf(!hasTmux)('mcptap proxy --ui in a terminal', () => {
  it('shows where to point the client, the sessions as they come, and a finding in the footer; q stops both', { timeout: 180_000 }, async () => {
    const ui = `${name}-proxy`;
    const gw = await startGatewayLikeServer({ prefix: 'db_main-' });
    const db = path.join(tmp.dir, 'proxy-ui.db');
    tmux('new-session', '-d', '-s', ui, '-x', '120', '-y', '30', `TERM=xterm-256color NO_COLOR=1 ${process.execPath} ${cli} proxy --ui --port 0 --target ${gw.url} --db ${db}; echo "mcptap exited $?"; sleep 30`);
    const cap = () => tmux('capture-pane', '-p', '-t', ui);
    const wait = (what: string, pred: (screen: string) => boolean) =>
      until(() => pred(cap()), what, 60_000).catch((e) => {
        throw new Error(`${e.message}; the screen was:\n${cap()}`);
      });
    try {
      await wait('the proxy address', (sc) => /proxy http:\/\/127\.0\.0\.1:\d+ → /.test(sc));
      const url = /proxy (http:\/\/127\.0\.0\.1:\d+)/.exec(cap())![1];
      expect(cap()).toContain(`claude mcp add --transport http mcptap ${url}/mcp`);
      await rawMode(ui);
      const c = await connectClient('streamable-http', `${url}/mcp`, { name: 'claude-code' });
      try {
        await c.client.listTools();
        // The name without the gateway's prefix: the live checks say so, in the footer.
        await c.client.callTool({ name: 'list_schemas', arguments: {} }).catch(() => undefined);
      } finally {
        await c.close();
      }
      await wait('the session', (sc) => sc.includes('claude-code → gateway'));
      await wait('the finding in the footer', (sc) => sc.split('\n').some((l) => l.startsWith('⚠ check: error [unknown-tool]')));
      save('proxy-ui.txt', cap());
      tmux('send-keys', '-t', ui, 'j');
      await wait('the key hints back', (sc) => sc.split('\n').some((l) => l.startsWith('Enter open')));
      tmux('send-keys', '-t', ui, 'q');
      await wait('the proxy to stop', (sc) => sc.includes('mcptap exited 0'));
      // What the footer showed is on stderr once the UI is gone, and the captures are in the database.
      expect(cap()).toMatch(/mcptap: check: error \[unknown-tool\] session \w+: tools\/call list_schemas/);
      expect(cap()).toMatch(/mcptap: proxy stopped; \d+ records written/);
    } finally {
      spawnSync('tmux', ['kill-session', '-t', ui]);
      await gw.close();
    }
  });
});

