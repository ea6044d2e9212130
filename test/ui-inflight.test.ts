import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { connectClient } from './helpers/peers.js';
import { startHangServer, type HangServer } from './helpers/hang-server.js';
import { tempDb, until } from './helpers/tmp.js';

// The in-flight view in a real terminal (tmux): a real SDK client's call hangs in a real server behind
// the proxy, and `mcptap tui` on the proxy's database shows it waiting, its age growing on screen.

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const tmp = tempDb();
const name = `mcptap-inflight-${process.pid}`;
const cli = path.resolve('dist/src/cli/main.js');
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', name);
const keys = (...k: string[]) => tmux('send-keys', '-t', name, ...k);
async function see(pred: (s: string) => boolean, what: string): Promise<string> {
  await until(() => pred(screen()), what, 60_000).catch((e) => {
    throw new Error(`${e.message}; the screen was:\n${screen()}`);
  });
  return screen();
}
/** Seconds in a duration as the UI prints it (250ms, 4.2s, 1m3s). */
function seconds(text: string): number {
  const m = /^(?:(\d+)m(\d+)s|([\d.]+)s|(\d+)ms)$/.exec(text);
  if (!m) return NaN;
  return m[1] ? Number(m[1]) * 60 + Number(m[2]) : m[3] ? Number(m[3]) : Number(m[4]) / 1000;
}
const closers: Array<() => Promise<void>> = [];
/** Screens kept for the README when MCPTAP_SCREENS_DIR names a folder. */
const save = (file: string, text: string) => process.env.MCPTAP_SCREENS_DIR && fs.writeFileSync(path.join(process.env.MCPTAP_SCREENS_DIR, file), text);

afterAll(async () => {
  if (hasTmux) spawnSync('tmux', ['kill-session', '-t', name]);
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.cleanup();
});

describe.skipIf(!hasTmux)('the in-flight view in a terminal', () => {
  it('shows the waiting call with its age growing, from the sessions list and from the timeline', { timeout: 180_000 }, async () => {
    const server: HangServer = await startHangServer('streamable-http');
    closers.push(() => server.close());
    const proxy: RunningProxy = await startProxy({ target: server.url, port: 0, db: tmp.db, label: 'stuck', onWarning: () => {} });
    closers.push(() => proxy.close());
    const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'claude-code' });
    closers.push(() => c.close());
    const call = c.client.callTool({ name: 'slow', arguments: {} }, undefined, { timeout: 170_000 });
    const slow = await server.called();
    // A second call the client gives up on: the server honours the cancellation, so it never answers.
    const abandoned = c.client.callTool({ name: 'slow', arguments: {} }, undefined, { timeout: 300 }).catch((e: Error) => e.message);
    await (await server.called()).cancelled;
    expect(await abandoned).toMatch(/timed out/i);
    await proxy.flush();

    tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '30', `TERM=xterm-256color NO_COLOR=1 ${process.execPath} ${cli} tui --db ${tmp.db}; echo "mcptap exited $?"; sleep 30`);
    await see((s) => s.includes('claude-code → hang'), 'the sessions list');
    const tty = tmux('display-message', '-p', '-t', name, '#{pane_tty}').trim();
    await until(() => /(^|\s)-icanon(\s|$)/.test(execFileSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' })), 'raw mode', 60_000);

    keys('i');
    const row = /^(\S+)\s+(\w{12})\s+tools\/call slow\s+\S+\s+post-sse \w{4} open\s+(\S+) ago/m;
    const first = await see((s) => row.test(s), 'the waiting call in the in-flight view');
    expect(first).toMatch(/in flight · 1 waiting · 1 abandoned by the client \(the server may still answer\) · live/);
    expect(first).toMatch(/^gave up \S+\s+\w{12}\s+tools\/call slow\s+2\s/m);
    const age = seconds(row.exec(first)![1]);
    // The age grows on its own, with no new traffic: poll the screen until it shows a later one.
    save('inflight.txt', await see((s) => seconds(row.exec(s)?.[1] ?? '') > age, 'the age to grow'));

    keys('Escape');
    await see((s) => s.includes('claude-code → hang') && !s.includes('in flight ·'), 'the sessions list again');
    keys('Enter');
    const wait = /tools\/call slow\s+\d+\s+waiting\s+(\S+)…/;
    const timeline = await see((s) => wait.test(s), 'the waiting request in the timeline');
    expect(timeline).toMatch(/tools\/call slow\s+2\s+abandoned/);
    const shown = seconds(wait.exec(timeline)![1]);
    save('timeline-waiting.txt', await see((s) => seconds(wait.exec(s)?.[1] ?? '') > shown, 'the wait to grow in the timeline'));

    keys('i');
    // Of one session: no session column.
    await see((s) => /in flight · 1 waiting/.test(s) && /^\S+\s+tools\/call slow\s+\S+\s+post-sse \w{4} open\s+\S+ ago/m.test(s), 'the in-flight view of the session');
    slow.release();
    await call;
    await proxy.flush();
    await see((s) => /in flight · 0 waiting · 1 abandoned/.test(s) && !/^\S+\s+tools\/call slow\s+1\s/m.test(s), 'the call answered');
    keys('q');
    await see((s) => s.includes('mcptap exited 0'), 'the UI to quit');
  });
});
