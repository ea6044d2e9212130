import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { WebSocket as WsSocket } from 'ws';
import { connectClient, startPlainToolsServer, startWsServer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// `mcptap proxy --ui --hold FILTER` in tmux, between a real SDK client and server: a matching call
// is held in the UI; f forwards it, a answers it (through $EDITOR), x drops it; over Streamable HTTP, and
// over a WebSocket whose two ends compress every message.

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const name = `mcptap-intercept-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
/** What tmux session `pane` shows, and a wait for the screen to show something. */
const watch = (pane: string) => {
  const screen = () => tmux('capture-pane', '-p', '-t', pane);
  const see = (t: string | RegExp) => until(() => (typeof t === 'string' ? screen().includes(t) : t.test(screen())), `the screen to show ${t}`, 60_000)
    .then(screen, (e) => { throw new Error(`${e.message}; the screen was:\n${screen()}`); });
  return { screen, see };
};
const { see } = watch(name);

/**
 * Starts `mcptap proxy --ui --hold FILTER` in tmux session `pane`, its "editor" writing a result with `answer`
 * into the file it is given; resolves to the proxy's URL once the UI reads keys.
 */
async function proxyInTmux(pane: string, target: string, filter: string, answer: string, rows: number): Promise<string> {
  const editor = path.join(tmp.dir, `${pane}-answer.sh`);
  fs.writeFileSync(editor, `#!/bin/sh\nprintf '%s' '{"result":{"content":[{"type":"text","text":"${answer}"}]}}' > "$1"\n`, { mode: 0o755 });
  const db = path.join(tmp.dir, `${pane}.db`);
  tmux('new-session', '-d', '-s', pane, '-x', '120', '-y', String(rows), `EDITOR=${editor} NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${cli} proxy --ui --port 0 --target ${target} --db ${db} --hold '${filter}'; echo "mcptap exited $?"; sleep 60`);
  const url = /proxy (http:\/\/127\.0\.0\.1:\d+)/.exec(await watch(pane).see(/proxy http:\/\/127\.0\.0\.1:\d+ → /))![1];
  const tty = tmux('display-message', '-p', '-t', pane, '#{pane_tty}').trim();
  await until(() => /(^|\s)-icanon(\s|$)/.test(execFileSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' })), 'raw mode', 60_000);
  return url;
}
const text = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0].text;

afterAll(() => {
  spawnSync('tmux', ['kill-session', '-t', name]);
  spawnSync('tmux', ['kill-session', '-t', `${name}-ws`]);
  tmp.cleanup();
});

describe.skipIf(!hasTmux)('mcptap proxy --ui --hold in a terminal', () => {
  it('holds a matching call; f forwards, a answers through $EDITOR, x drops', { timeout: 180_000 }, async () => {
    const server = await startPlainToolsServer();
    try {
      const url = await proxyInTmux(name, server.url, 'tool:query', 'answered in tmux', 30);
      const c = await connectClient('streamable-http', `${url}/mcp`, { name: 'claude-code' });
      try {
        const first = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
        await see('1 held (h)');
        tmux('send-keys', '-t', name, 'h');
        await see(/#1 → tools\/call query .* \d+s held, ~\d+s before a 60s client timeout/);
        tmux('send-keys', '-t', name, 'f');
        expect(text(await first)).toBe('1 row for: select 1');
        await see('0 held (h)');
        const second = c.client.callTool({ name: 'query', arguments: { sql: 'select 2' } });
        await see('#2 → tools/call query');
        tmux('send-keys', '-t', name, 'a');
        expect(text(await second)).toBe('answered in tmux');
        await see("answered #2 in the server's place");
        const third = c.client.callTool({ name: 'query', arguments: { sql: 'select 3' } });
        await see('#3 → tools/call query');
        tmux('send-keys', '-t', name, 'x');
        await expect(third).rejects.toThrow(/dropped at the intercept/);
        // What does not match is never held.
        expect(text(await c.client.callTool({ name: 'echo', arguments: { message: 'free' } }))).toBe('Echo: free');
      } finally {
        await c.close();
      }
      tmux('send-keys', '-t', name, 'q');
      await see('mcptap exited 0');
    } finally {
      await server.close();
    }
  });
  it('over a compressed WebSocket: a answers the held call as the server would, x drops the next', { timeout: 180_000 }, async () => {
    const server = await startWsServer({ deflate: true });
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    g.WebSocket = class extends WsSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols, { perMessageDeflate: { threshold: 0 } });
      }
    };
    const ws = `${name}-ws`;
    const wsSee = watch(ws).see;
    try {
      const url = await proxyInTmux(ws, server.url, 'tool:echo', 'answered over the socket in tmux', 36);
      const c = await connectClient('websocket', `${url.replace(/^http/, 'ws')}/`, { name: 'claude-code' });
      try {
        const first = c.client.callTool({ name: 'echo', arguments: { message: 'one' } });
        await wsSee('1 held (h)');
        tmux('send-keys', '-t', ws, 'h');
        await wsSee(/#1 → tools\/call echo +WS frame .* \d+s held, ~\d+s before a 60s client timeout/);
        tmux('send-keys', '-t', ws, 'a');
        expect(text(await first)).toBe('answered over the socket in tmux');
        await wsSee("answered #1 in the server's place");
        const second = c.client.callTool({ name: 'echo', arguments: { message: 'two' } }, undefined, { timeout: 3000 });
        await wsSee('#2 → tools/call echo');
        tmux('send-keys', '-t', ws, 'x');
        await wsSee('dropped #2 tools/call: the server never saw it');
        await expect(second).rejects.toThrow(/timed out/i);
        expect(text(await c.client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }))).toMatch(/3/);
      } finally {
        await c.close();
      }
      tmux('send-keys', '-t', ws, 'q');
      await wsSee('mcptap exited 0');
    } finally {
      g.WebSocket = saved;
      await server.close();
    }
  });
});
