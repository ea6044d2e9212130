import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { connectClient, startPlainToolsServer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// `mcptap proxy --ui --hold FILTER` in tmux, between a real SDK client and server: a matching call
// is held in the UI; f forwards it, a answers it (through $EDITOR), x drops it.

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const name = `mcptap-intercept-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', name);
const see = (text: string | RegExp) => until(() => (typeof text === 'string' ? screen().includes(text) : text.test(screen())), `the screen to show ${text}`, 60_000)
  .then(screen, (e) => { throw new Error(`${e.message}; the screen was:\n${screen()}`); });
const text = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0].text;

afterAll(() => {
  spawnSync('tmux', ['kill-session', '-t', name]);
  tmp.cleanup();
});

describe.skipIf(!hasTmux)('mcptap proxy --ui --hold in a terminal', () => {
  it('holds a matching call; f forwards, a answers through $EDITOR, x drops', { timeout: 180_000 }, async () => {
    const server = await startPlainToolsServer();
    // The "editor" writes a result into the file it is given.
    const editor = path.join(tmp.dir, 'answer.sh');
    fs.writeFileSync(editor, `#!/bin/sh\nprintf '%s' '{"result":{"content":[{"type":"text","text":"answered in tmux"}]}}' > "$1"\n`, { mode: 0o755 });
    const db = path.join(tmp.dir, 'intercept.db');
    tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '30', `EDITOR=${editor} NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${cli} proxy --ui --port 0 --target ${server.url} --db ${db} --hold 'tool:query'; echo "mcptap exited $?"; sleep 60`);
    try {
      const url = /proxy (http:\/\/127\.0\.0\.1:\d+)/.exec(await see(/proxy http:\/\/127\.0\.0\.1:\d+ → /))![1];
      const tty = tmux('display-message', '-p', '-t', name, '#{pane_tty}').trim();
      await until(() => /(^|\s)-icanon(\s|$)/.test(execFileSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' })), 'raw mode', 60_000);
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
});
