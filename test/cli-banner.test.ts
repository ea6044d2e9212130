import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { startSseServer, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// The proxy's banner, as a new user reads it: commands that run as printed where the user is, the
// target's state and transport, URLs a client can use.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const peers: Peer[] = [];
const children: ChildProcess[] = [];
let http: Peer;
let sse: Peer;

beforeAll(async () => {
  http = await startStreamableServer();
  sse = await startSseServer();
  peers.push(http, sse);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode == null ? new Promise((r) => c.once('exit', r)) : null)));
  for (const p of peers) await p.close();
  tmp.cleanup();
});

/** Starts `mcptap proxy` the way `argv0 args` does, from `cwd`, and returns its banner once printed. */
async function banner(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  // This suite itself may run under npx: the child must not inherit npm's marks unless a test sets them.
  const { npm_command: _c, npm_lifecycle_event: _e, ...env } = process.env;
  const child = spawn(cmd, args, { cwd: opts.cwd ?? process.cwd(), env: { ...env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  await until(() => out.includes('Ctrl-C stops'), 'the banner', 60_000).catch((e) => { throw new Error(`${e.message}:\n${out}`); });
  return out;
}

const line = (out: string, prefix: string) => out.split('\n').map((l) => l.trim()).find((l) => l.startsWith(prefix))!.slice(prefix.length).trim();

describe('the proxy banner', () => {
  it('prints the tui and sessions commands as the user ran mcptap, and they run as printed', async () => {
    const db = path.join(tmp.dir, 'cwd.db');
    const out = await banner(process.execPath, [path.relative(process.cwd(), cli), 'proxy', '--target', http.url, '--port', '0', '--db', db]);
    expect(line(out, 'Watch live:')).toBe(`node dist/src/cli/main.js tui --db ${db}`);
    const list = line(out, 'List:');
    expect(list).toBe(`node dist/src/cli/main.js sessions --db ${db}`);
    const r = spawnSync('/bin/sh', ['-c', list.replace(/^node /, `${process.execPath} `)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const npx = await banner(process.execPath, [cli, 'proxy', '--target', http.url, '--port', '0', '--db', db], { env: { npm_command: 'exec', npm_lifecycle_event: 'npx' } });
    expect(line(npx, 'List:')).toBe(`npx mcptap sessions --db ${db}`);
  });

  it('prints plain mcptap when that name on the PATH is this program (npm link, npm install -g .)', async () => {
    const bin = path.join(tmp.dir, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(cli, path.join(bin, 'mcptap'));
    // npm link and npm install -g mark the bin executable; tsc's output is not.
    fs.chmodSync(cli, 0o755);
    const env = { PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}` };
    const out = await banner('mcptap', ['proxy', '--target', http.url, '--port', '0', '--db', path.join(tmp.dir, 'linked.db')], { env, cwd: tmp.dir });
    expect(line(out, 'List:')).toBe(`mcptap sessions --db ${path.join(tmp.dir, 'linked.db')}`);
  });

  it('says a target that is down is down, and still starts', async () => {
    const out = await banner(process.execPath, [cli, 'proxy', '--target', 'http://127.0.0.1:9', '--port', '0', '--db', path.join(tmp.dir, 'down.db')]);
    expect(line(out, 'target')).toMatch(/^http:\/\/127\.0\.0\.1:9\s+NOT REACHABLE \(ECONNREFUSED\): start the server or fix --target; the proxy runs anyway$/);
  });

  it('takes a target without a scheme (host:port), assumes http:// and says so', async () => {
    const hostPort = new URL(http.url).host;
    const out = await banner(process.execPath, [cli, 'proxy', '--target', hostPort, '--port', '0', '--db', path.join(tmp.dir, 'hostport.db')]);
    expect(line(out, 'target')).toBe(`http://${hostPort} (no scheme given: http:// assumed)   (speaks Streamable HTTP)`);
  });

  it('puts the transport the target speaks first', async () => {
    const a = await banner(process.execPath, [cli, 'proxy', '--target', http.url, '--port', '0', '--db', path.join(tmp.dir, 'h.db')]);
    expect(line(a, 'target')).toContain('(speaks Streamable HTTP)');
    expect(a).toMatch(/instead of the server:\n  claude mcp add --transport http mcptap http:\/\/127\.0\.0\.1:\d+\/mcp\n  claude mcp add --transport sse/);
    const b = await banner(process.execPath, [cli, 'proxy', '--target', sse.url, '--port', '0', '--db', path.join(tmp.dir, 's.db')]);
    expect(line(b, 'target')).toContain('(speaks legacy HTTP+SSE)');
    expect(b).toMatch(/instead of the server:\n  claude mcp add --transport sse mcptap http:\/\/127\.0\.0\.1:\d+\/sse\n  claude mcp add --transport http/);
  });

  it('with --host 0.0.0.0 prints URLs a client can connect to', async () => {
    const out = await banner(process.execPath, [cli, 'proxy', '--target', http.url, '--port', '0', '--host', '0.0.0.0', '--db', path.join(tmp.dir, 'any.db')]);
    expect(out).toMatch(/listening on http:\/\/0\.0\.0\.0:(\d+) \(every address; on this machine http:\/\/127\.0\.0\.1:\1\)/);
    expect(out).toMatch(/claude mcp add --transport http mcptap http:\/\/127\.0\.0\.1:\d+\/mcp/);
    expect(out).not.toMatch(/claude mcp add .*0\.0\.0\.0/);
  });
});
