import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { HoldClient, holdSocketPath } from '../src/proxy/hold-channel.js';
import { rewriteText } from '../src/model/facts.js';
import { readStored, resultText as text } from './helpers/hold.js';
import { connectClient, startPlainToolsServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// `mcptap proxy --hold FILTER` (no --ui) as a child process between a real SDK client and server, and the
// hold channel's client (the one `mcptap tui` uses) attached over its Unix socket: it holds only while a
// client is attached; forward, edit, answer and drop are decided from the channel and recorded as in-process
// ones; a client that quits or dies releases what was held, unchanged.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const children: ChildProcess[] = [];
const cliRun = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
let server: Peer;

/** Starts `mcptap proxy --hold FILTER` with HOME in the temp folder; its URL once it listens and serves the channel. */
async function holdingProxy(db: string, filter: string) {
  const child = spawn(process.execPath, [cli, 'proxy', '--target', server.url, '--port', '0', '--db', db, '--label', 'attached', '--hold', filter], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: tmp.dir },
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await until(() => /listening on http/.test(out) && err.includes('holding what matches'), 'the proxy to listen', 60_000).catch((e) => {
    throw new Error(`${e.message}: ${out}${err}`);
  });
  return { child, url: /listening on (http:\/\/\S+)/.exec(out)![1], err: () => err, exited };
}

beforeAll(async () => {
  server = await startPlainToolsServer();
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await server.close();
  tmp.cleanup();
});

describe('mcptap proxy --hold, decided over the hold channel', () => {
  it('holds only while attached; forward, edit, answer and drop from the channel; recorded with before and after', { timeout: 120_000 }, async () => {
    const db = path.join(tmp.dir, 'channel.db');
    const p = await holdingProxy(db, 'tool:query');
    const socket = holdSocketPath(db, tmp.dir);
    // Only this user reaches it: the socket 0600 in a 0700 directory.
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(socket)).mode & 0o777).toBe(0o700);
    const c = await connectClient('streamable-http', `${p.url}/mcp`, { name: 'attached' });
    try {
      // No TUI attached: nothing waits on anyone.
      expect(text(await c.client.callTool({ name: 'query', arguments: { sql: 'select 0' } }))).toBe('1 row for: select 0');
      const gate = await HoldClient.connect(socket);
      expect(gate.filter).toBe('tool:query');
      const heldOne = async () => {
        await until(() => gate.held().length === 1, 'a held message');
        return gate.held()[0];
      };
      try {
        const asIs = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
        let h = await heldOne();
        expect(h).toMatchObject({ method: 'tools/call', subject: 'query', direction: 'client->server', via: 'post' });
        await gate.forward(h.id);
        expect(text(await asIs)).toBe('1 row for: select 1');

        const edited = c.client.callTool({ name: 'query', arguments: { sql: 'select 2' } });
        h = await heldOne();
        // A refused edit says why; the message stays held.
        await expect(gate.forward(h.id, '{not json')).rejects.toThrow(/the edited message is not JSON/);
        expect(gate.held().map((x) => x.id)).toEqual([h.id]);
        const body = JSON.parse(h.body);
        body.params.arguments.sql = 'select 22';
        await gate.forward(h.id, JSON.stringify(body));
        expect(text(await edited)).toBe('1 row for: select 22');

        const answered = c.client.callTool({ name: 'query', arguments: { sql: 'select 3' } });
        h = await heldOne();
        await gate.answer(h.id, JSON.stringify({ result: { content: [{ type: 'text', text: 'answered over the channel' }] } }));
        expect(text(await answered)).toBe('answered over the channel');

        const dropped = c.client.callTool({ name: 'query', arguments: { sql: 'select 4' } });
        await gate.drop((await heldOne()).id);
        await expect(dropped).rejects.toThrow(/dropped at the intercept/);
        await expect(gate.drop(999)).rejects.toThrow(/no held message #999/);
        // What does not match is never held.
        expect(text(await c.client.callTool({ name: 'echo', arguments: { message: 'free' } }))).toBe('Echo: free');
      } finally {
        await gate.close();
      }
    } finally {
      await c.close();
    }
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    const rewrites = readStored(db, (s) => {
      const session = s.listSessions().find((x) => x.clientInfo?.name === 'attached')!;
      return s.exchanges(session.id).flatMap((e) => e.rewrites);
    });
    expect(rewrites.map((r) => r.kind)).toEqual(['intercept-edit', 'intercept-answer']);
    expect(JSON.parse(rewrites[0].before!).params.arguments.sql).toBe('select 2');
    expect(JSON.parse(rewrites[0].after).params.arguments.sql).toBe('select 22');
    expect(rewriteText(rewrites[0])).toMatch(/^client message edited at the intercept: /);
    expect(JSON.parse(rewrites[1].after).result.content[0].text).toBe('answered over the channel');
    // Stopped, the proxy leaves no socket behind.
    expect(fs.existsSync(holdSocketPath(db, tmp.dir))).toBe(false);
  });

  it('a TUI that quits or dies releases what it held, unchanged; the next one attaches; a stopped proxy says so', { timeout: 120_000 }, async () => {
    const db = path.join(tmp.dir, 'detach.db');
    const p = await holdingProxy(db, 'tool:query');
    const socket = holdSocketPath(db, tmp.dir);
    const c = await connectClient('streamable-http', `${p.url}/mcp`, { name: 'detach' });
    try {
      // Quits with a message held: it goes on as it came.
      const gate = await HoldClient.connect(socket);
      const first = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
      await until(() => gate.held().length === 1, 'the held call');
      await gate.close();
      expect(text(await first)).toBe('1 row for: select 1');
      expect(text(await c.client.callTool({ name: 'query', arguments: { sql: 'select 2' } }))).toBe('1 row for: select 2');

      // A process attached to the channel is killed with a message held: released the same way.
      const crashing = spawn(process.execPath, ['-e', `require('net').connect(${JSON.stringify(socket)}).on('data', (d) => process.stdout.write(d))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(crashing);
      let seen = '';
      crashing.stdout!.on('data', (d) => (seen += d));
      await until(() => seen.includes('"type":"hello"'), 'the crashing client to attach');
      const second = c.client.callTool({ name: 'query', arguments: { sql: 'select 3' } });
      await until(() => seen.includes('select 3'), 'the call held for the crashing client');
      crashing.kill('SIGKILL');
      expect(text(await second)).toBe('1 row for: select 3');

    } finally {
      await c.close();
    }
    // The next one attaches and holds again; when the proxy stops under it, it is told, and what was held
    // is let go (on as it came, or with the connection the proxy closes): its client is not left waiting.
    const gate = await HoldClient.connect(socket);
    const third = fetch(`${p.url}/mcp`, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'query', arguments: { sql: 'select 4' } } }),
    }).then((r) => r.status, () => 'connection closed');
    await until(() => gate.held().length === 1, 'the held call');
    const gone = new Promise<void>((r) => gate.once('gone', r));
    p.child.kill('SIGINT');
    await gone;
    expect(await third).toBeTruthy();
    expect(gate.held()).toEqual([]);
    await expect(gate.drop(1)).rejects.toThrow(/the proxy has stopped/);
    expect(await p.exited).toBe(0);
  });

  it('a line past the bound (128 MiB with no newline) closes that connection only: the proxy holds on for the next', { timeout: 120_000 }, async () => {
    const db = path.join(tmp.dir, 'long-line.db');
    const p = await holdingProxy(db, 'tool:query');
    const socket = holdSocketPath(db, tmp.dir);
    const flood = net.connect(socket);
    const closed = new Promise<void>((r) => flood.on('close', () => r()));
    flood.on('error', () => {});
    const chunk = Buffer.alloc(8 * 1024 * 1024, 'x');
    for (let i = 0; i < 17 && !flood.destroyed; i++) {
      if (!flood.write(chunk)) await new Promise<void>((r) => { flood.once('drain', r); flood.once('close', r); });
    }
    await closed;
    const gate = await HoldClient.connect(socket);
    const c = await connectClient('streamable-http', `${p.url}/mcp`, { name: 'after-flood' });
    try {
      const call = c.client.callTool({ name: 'query', arguments: { sql: 'select 5' } });
      await until(() => gate.held().length === 1, 'the held call');
      await gate.forward(gate.held()[0].id);
      expect(text(await call)).toBe('1 row for: select 5');
    } finally {
      await c.close();
      await gate.close();
    }
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
  });

  it('a call held is in flight, not unanswered: check finds no error and the session list shows ERR 0', { timeout: 120_000 }, async () => {
    const db = path.join(tmp.dir, 'in-flight.db');
    const p = await holdingProxy(db, 'tool:query');
    const gate = await HoldClient.connect(holdSocketPath(db, tmp.dir));
    const c = await connectClient('streamable-http', `${p.url}/mcp`, { name: 'in-flight' });
    try {
      const call = c.client.callTool({ name: 'query', arguments: { sql: 'select 6' } });
      await until(() => gate.held().length === 1, 'the held call');
      await until(() => JSON.parse(cliRun('sessions', '--json', '--db', db).stdout).some((x: { messageCount: number }) => x.messageCount >= 4), 'the held call stored');
      const checked = cliRun('check', '--db', db, '--format', 'json');
      const findings = (JSON.parse(checked.stdout) as Array<{ findings: Array<{ ruleId: string; severity: string; title: string }> }>).flatMap((x) => x.findings);
      expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
      expect(findings.find((f) => f.ruleId === 'unanswered')).toMatchObject({ severity: 'info', title: expect.stringContaining('still waiting') });
      expect(checked.status).toBe(0);
      expect(JSON.parse(cliRun('sessions', '--json', '--db', db).stdout).map((x: { errorCount: number }) => x.errorCount)).toEqual([0]);
      await gate.forward(gate.held()[0].id);
      expect(text(await call)).toBe('1 row for: select 6');
    } finally {
      await c.close();
      await gate.close();
    }
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
  });

  it('refuses a second proxy holding for the same database, and a --proxy socket nothing serves', { timeout: 120_000 }, async () => {
    const db = path.join(tmp.dir, 'twice.db');
    const p = await holdingProxy(db, 'tool:query');
    const second = spawn(process.execPath, [cli, 'proxy', '--target', server.url, '--port', '0', '--db', db, '--hold', 'tool:echo'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: tmp.dir } });
    children.push(second);
    let err = '';
    second.stderr!.on('data', (c) => (err += c));
    const code = await new Promise<number | null>((r) => second.on('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(err).toMatch(/^mcptap: another mcptap proxy holding for .*twice\.db serves /);
    expect(err).not.toMatch(/\n\s+at /);
    p.child.kill('SIGINT');
    expect(await p.exited, p.err()).toBe(0);
    await expect(HoldClient.connect(path.join(tmp.dir, 'nothing.sock'))).rejects.toThrow(/no mcptap proxy --hold answers on .*nothing\.sock \(ENOENT\)/);
  });
});
