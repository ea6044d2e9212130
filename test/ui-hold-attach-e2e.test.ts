import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { readStored, resultText as text } from './helpers/hold.js';
import { connectClient, startPlainToolsServer } from './helpers/peers.js';
import { hasTmux, killTerms, term } from './helpers/tmux.js';
import { tempDb, until } from './helpers/tmp.js';

// `mcptap tui --db FILE` in tmux, started beside a running `mcptap proxy --hold FILTER` (a child process,
// no --ui) between a real SDK client and server: the TUI attaches to the proxy's hold channel, shows the
// held call on the same screen as proxy --ui, answers it through $EDITOR with the same key, forwards the
// next; quitting with a call still held lets it go on as it came.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const sessions: string[] = [];
const children: ChildProcess[] = [];

afterAll(() => {
  killTerms(sessions);
  for (const c of children) c.kill('SIGKILL');
  tmp.cleanup();
});

describe.skipIf(!hasTmux)('mcptap tui attached to a running mcptap proxy --hold', () => {
  it('holds a tools/call; a answers it, f forwards the next; q releases what is still held', { timeout: 180_000 }, async () => {
    const server = await startPlainToolsServer();
    const db = path.join(tmp.dir, 'attach.db');
    const env = { ...process.env, HOME: tmp.dir };
    const proxy = spawn(process.execPath, [cli, 'proxy', '--target', server.url, '--port', '0', '--db', db, '--hold', 'method:tools/call tool:query'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    children.push(proxy);
    let out = '';
    let err = '';
    proxy.stdout!.on('data', (c) => (out += c));
    proxy.stderr!.on('data', (c) => (err += c));
    const exited = new Promise<number | null>((r) => proxy.on('exit', (code) => r(code)));
    try {
      await until(() => /listening on http/.test(out) && err.includes('holding what matches'), 'the proxy', 60_000);
      expect(err).toContain(`mcptap tui --db ${db}`);
      const url = /listening on (http:\/\/\S+)/.exec(out)![1];
      const editor = path.join(tmp.dir, 'answer.sh');
      fs.writeFileSync(editor, `#!/bin/sh\nprintf '%s' '{"result":{"content":[{"type":"text","text":"answered from the attached TUI"}]}}' > "$1"\n`, { mode: 0o755 });
      const t = term(sessions, `mcptap-attach-${process.pid}`, 120, 36,
        `HOME=${tmp.dir} EDITOR=${editor} NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${cli} tui --db ${db}; echo "mcptap exited $?"; sleep 60`);
      await t.raw();
      await t.see('0 held (h)');
      const c = await connectClient('streamable-http', `${url}/mcp`, { name: 'claude-code' });
      try {
        const first = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
        await t.see('1 held (h)');
        t.keys('h');
        await t.see(/#1 → tools\/call query +POST .* \d+s held, ~\d+s before a 60s client timeout/);
        t.keys('a');
        expect(text(await first)).toBe('answered from the attached TUI');
        await t.see("answered #1 in the server's place");
        await t.see('0 held (h)');

        const second = c.client.callTool({ name: 'query', arguments: { sql: 'select 2' } });
        await t.see('#2 → tools/call query');
        t.keys('f');
        expect(text(await second)).toBe('1 row for: select 2');
        await t.see('forwarded #2 tools/call');

        // Quitting with a call held: the proxy lets it go on as it came.
        const third = c.client.callTool({ name: 'query', arguments: { sql: 'select 3' } });
        await t.see('#3 → tools/call query');
        t.keys('q');
        await t.see('mcptap exited 0');
        expect(text(await third)).toBe('1 row for: select 3');
        // No TUI attached: nothing is held.
        expect(text(await c.client.callTool({ name: 'query', arguments: { sql: 'select 4' } }))).toBe('1 row for: select 4');
      } finally {
        await c.close();
      }
      proxy.kill('SIGINT');
      expect(await exited).toBe(0);
      const rewrites = readStored(db, (s) => {
        const session = s.listSessions().find((x) => x.clientInfo?.name === 'claude-code')!;
        return s.exchanges(session.id).flatMap((e) => e.rewrites);
      });
      expect(rewrites.map((r) => r.kind)).toEqual(['intercept-answer']);
      expect(JSON.parse(rewrites[0].after).result.content[0].text).toBe('answered from the attached TUI');
    } finally {
      await server.close();
    }
  });
});
