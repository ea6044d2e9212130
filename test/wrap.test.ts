import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CaptureStore } from '../src/store/read.js';
import { tempDb } from './helpers/tmp.js';
import { startStreamableServer } from './helpers/peers.js';

// `mcptap wrap` between the SDK's StdioClientTransport and real stdio servers: the client sees what it
// sees without mcptap, and the database holds every message, paired, and the server's stderr lines.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const everythingBin = path.resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const sdkServer = path.resolve('dist/test/helpers/stdio-server.js');

afterAll(() => tmp.cleanup());

async function connect(command: string, args: string[], env: Record<string, string> = {}) {
  const stderr: Buffer[] = [];
  const transport = new StdioClientTransport({ command, args, env: { ...process.env, ...env } as Record<string, string>, stderr: 'pipe' });
  transport.stderr?.on('data', (c: Buffer) => stderr.push(c));
  const client = new Client({ name: 'wrap-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, stderr: () => Buffer.concat(stderr).toString('utf8') };
}

const wrapArgs = (db: string, label: string, ...cmd: string[]) => [cli, 'wrap', '--db', db, '--label', label, '--', ...cmd];

function sessionOf(db: string, label: string) {
  const store = CaptureStore.open(db, { readonly: true });
  try {
    const s = store.listSessions({}).find((x) => x.label === label);
    if (!s) throw new Error(`no session labelled ${label}`);
    return { session: s, messages: [...store.iterateMessages(s.id)], exchanges: store.exchanges(s.id) };
  } finally {
    store.close();
  }
}

/** Results without what differs per run by design (the everything server's random and timed parts). */
const tools = (r: Awaited<ReturnType<Client['listTools']>>) => r.tools.map((t) => t.name).sort();

describe('mcptap wrap with server-everything (stdio)', () => {
  it('gives the client the same answers as the server run directly, and records every message paired', async () => {
    const direct = await connect(process.execPath, [everythingBin, 'stdio']);
    const dTools = await direct.client.listTools();
    const dEcho = await direct.client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    const dPrompts = await direct.client.listPrompts();
    await direct.client.close();

    const wrapped = await connect(process.execPath, wrapArgs(tmp.db, 'everything', process.execPath, everythingBin, 'stdio'));
    expect(wrapped.client.getServerVersion()).toEqual(direct.client.getServerVersion());
    const wTools = await wrapped.client.listTools();
    const wEcho = await wrapped.client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    const wPrompts = await wrapped.client.listPrompts();
    await wrapped.client.close();
    expect(tools(wTools)).toEqual(tools(dTools));
    expect(wTools).toEqual(dTools);
    expect(wEcho).toEqual(dEcho);
    expect(wPrompts).toEqual(dPrompts);
    // The server's stderr reached the client's stderr as it wrote it.
    expect(wrapped.stderr()).toContain('Starting default (STDIO) server...');
    expect(wrapped.stderr()).not.toMatch(/mcptap/);

    const { session, messages, exchanges } = sessionOf(tmp.db, 'everything');
    expect(session.transport).toBe('stdio');
    expect(session.target).toBe(`${process.execPath} ${everythingBin} stdio`);
    expect(session.serverInfo?.name).toBe('mcp-servers/everything');
    expect(session.clientInfo?.name).toBe('wrap-test');
    expect(session.endedAt).not.toBeNull();
    const rpc = messages.filter((m) => m.kind !== 'log');
    const requests = rpc.filter((m) => m.kind === 'request' && m.direction === 'client->server');
    expect(requests.map((m) => m.method)).toEqual(['initialize', 'tools/list', 'tools/call', 'prompts/list']);
    for (const r of requests) expect(r.correlatedSeq, r.method!).not.toBeNull();
    expect(rpc.every((m) => m.channel === (m.direction === 'client->server' ? 'stdin' : 'stdout'))).toBe(true);
    const call = requests.find((m) => m.method === 'tools/call')!;
    const answer = messages.find((m) => m.seq === call.correlatedSeq)!;
    expect(JSON.parse(answer.payload).result).toEqual(wEcho);
    const logs = messages.filter((m) => m.kind === 'log');
    expect(logs.map((m) => m.payload)).toContain('Starting default (STDIO) server...');
    expect(logs.every((m) => m.channel === 'stderr')).toBe(true);
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]).toMatchObject({ kind: 'process', method: 'EXEC', status: 0, failure: null, upstreamUrl: process.cwd() });
  });

  it('a stdio recording replays against the same server over Streamable HTTP', async () => {
    const peer = await startStreamableServer();
    try {
      const { session } = sessionOf(tmp.db, 'everything');
      const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn(process.execPath, [cli, 'replay', session.id, '--target', peer.url, '--db', tmp.db, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.once('exit', (code) => resolve({ code, out }));
      });
      expect(r.code).not.toBe(2);
      const replayed = sessionOf(tmp.db, `replay of ${session.id}`);
      expect(replayed.session.transport).toBe('streamable-http');
      const sent = replayed.messages.filter((m) => m.kind === 'request' && m.direction === 'client->server').map((m) => m.method);
      expect(sent).toEqual(['initialize', 'tools/list', 'tools/call', 'prompts/list']);
    } finally {
      await peer.close();
    }
  });
});

describe('mcptap wrap with an SDK McpServer over StdioServerTransport', () => {
  it('passes the environment and working directory, records stderr lines and redacts secrets in the command line', async () => {
    const secret = 'sk-test-9f8e7d6c5b4a39281706';
    const envSecret = 'ghp_0123456789abcdefABCDEF';
    const c = await connect(process.execPath, wrapArgs(tmp.db, 'sdk', process.execPath, sdkServer, `--api-key=${secret}`, `TOKEN=${secret}`), { GITHUB_TOKEN: envSecret });
    const env = await c.client.callTool({ name: 'env', arguments: { name: 'GITHUB_TOKEN' } });
    expect(JSON.parse((env.content as Array<{ text: string }>)[0].text)).toEqual({ value: envSecret, cwd: process.cwd() });
    const logged = await c.client.callTool({ name: 'log', arguments: { lines: ['first line', 'second: ünïcode ✓', ''] } });
    expect(logged.content).toEqual([{ type: 'text', text: '3 lines' }]);
    await c.client.close();
    const { session, messages } = sessionOf(tmp.db, 'sdk');
    expect(session.target).not.toContain(secret);
    // One fingerprint for both (the database's key): a keyed hash and the last four characters.
    const fpOf = /'--api-key=(\[redacted:[0-9a-f]{8}…1706\])' 'TOKEN=(\[redacted:[0-9a-f]{8}…1706\])'$/.exec(session.target)!;
    expect(session.target.startsWith(`${process.execPath} ${sdkServer} '--api-key=`)).toBe(true);
    expect(fpOf[1]).toBe(fpOf[2]);
    const logs = messages.filter((m) => m.kind === 'log').map((m) => m.payload);
    expect(logs).toEqual(['stdio-test-server: ready', 'first line', 'second: ünïcode ✓', '']);
    // The env secret the server echoed is scrubbed from the stored answer.
    const all = messages.map((m) => m.payload).join('\n');
    expect(all).not.toContain(envSecret);
    expect(fs.readFileSync(tmp.db).includes(Buffer.from(envSecret))).toBe(false);
    expect(fs.readFileSync(tmp.db).includes(Buffer.from(secret))).toBe(false);
  });

  it("exits with the child's exit code", async () => {
    const c = await connect(process.execPath, wrapArgs(tmp.db, 'exit3', process.execPath, sdkServer));
    const closed = new Promise<void>((r) => (c.transport.onclose = () => r()));
    const exited = new Promise<number | null>((r) => (c.transport as unknown as { _process: import('node:child_process').ChildProcess })._process.once('exit', (code) => r(code)));
    await c.client.callTool({ name: 'exit', arguments: { code: 3 } });
    expect(await exited).toBe(3);
    await closed;
    const { session, exchanges } = sessionOf(tmp.db, 'exit3');
    expect(session.endReason).toBe('exited');
    expect(exchanges[0]).toMatchObject({ status: 3, failure: { kind: 'process-exited', code: 3 } });
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('forwards %s to the child and exits 128 + the signal', async (sig) => {
    const child = spawn(process.execPath, wrapArgs(tmp.db, `sig-${sig}`, process.execPath, sdkServer), { stdio: ['pipe', 'pipe', 'pipe'] });
    // The server is up once its stderr line came through.
    await new Promise<void>((resolve) => child.stderr.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()));
    const exit = new Promise<[number | null, string | null]>((r) => child.once('exit', (code, s) => r([code, s])));
    child.kill(sig);
    const codes = { SIGTERM: 143, SIGINT: 130, SIGHUP: 129 };
    expect(await exit).toEqual([codes[sig], null]);
    const { session, exchanges } = sessionOf(tmp.db, `sig-${sig}`);
    // wrap passed the signal on: the session ended because mcptap stopped, not by the server's doing.
    expect(session.endReason).toBe('proxy-stopped');
    expect(exchanges[0]).toMatchObject({ status: codes[sig], failure: { kind: 'process-killed', signal: sig } });
  });

  it('ends the session when the client closes stdin', async () => {
    const r = spawnSync(process.execPath, wrapArgs(tmp.db, 'eof', process.execPath, sdkServer), { input: '', encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(sessionOf(tmp.db, 'eof').session.endReason).toBe('stdin-closed');
  });
});

describe('mcptap wrap when things go wrong', () => {
  it('a command that cannot start: one line on stderr, nothing on stdout, exit 127, recorded', () => {
    const r = spawnSync(process.execPath, wrapArgs(tmp.db, 'missing', 'no-such-command-mcptap-test', '--x'), { input: '', encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(127);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('mcptap: cannot start no-such-command-mcptap-test: command not found\n');
    const { session, exchanges } = sessionOf(tmp.db, 'missing');
    expect(session.endReason).toBe('spawn-failed');
    expect(exchanges[0]).toMatchObject({ status: 127, failure: { kind: 'process-not-started', detail: 'no-such-command-mcptap-test: command not found' } });
  });

  it('a database that cannot be opened: the server still runs, bytes untouched, a warning on stderr', () => {
    const bad = path.join(tmp.dir, 'not-a-dir');
    fs.writeFileSync(bad, 'a file');
    const input = '{"jsonrpc":"2.0","id":1,"method":"ping"}\n';
    const r = spawnSync(process.execPath, wrapArgs(path.join(bad, 'x.db'), 'nodb', process.execPath, '-e', 'process.stdin.pipe(process.stdout)'), { input, encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(input);
    expect(r.stderr).toMatch(/^mcptap: warning: not recording: .+\n$/);
  });

  it('garbage on the pipe (random bytes, invalid JSON, partial lines, a 10 MB line) passes through untouched and is recorded as invalid', () => {
    let seed = 42;
    const random = Buffer.alloc(4096, 0).map(() => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff).map((b) => (b === 10 ? 32 : b));
    const big = Buffer.alloc(10 * 1024 * 1024, 'x');
    const input = Buffer.concat([
      random, Buffer.from('\n{"jsonrpc":"2.0", oops\n{"not":"rpc"}\n[]\n\r\n'),
      Buffer.from('{"jsonrpc":"2.0","id":7,"method":"ping"}\n'), big, Buffer.from('\n{"jsonrpc":"2.0","id":8,"meth'),
    ]);
    const r = spawnSync(process.execPath, wrapArgs(tmp.db, 'garbage', process.execPath, '-e', 'process.stdin.pipe(process.stdout)'), { input, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    expect(r.status).toBe(0);
    expect(Buffer.compare(r.stdout, input)).toBe(0);
    expect(r.stderr.toString()).toBe('');
    const { session, messages } = sessionOf(tmp.db, 'garbage');
    expect(session.endReason).toBe('stdin-closed');
    for (const dir of ['client->server', 'server->client'] as const) {
      const mine = messages.filter((m) => m.direction === dir);
      expect(mine.map((m) => m.kind)).toEqual(['non-json', 'non-json', 'invalid', 'invalid', 'request', 'non-json', 'non-json']);
      const huge = mine[5];
      expect(huge.size).toBe(big.length);
      expect(huge.truncated).toBe(true);
      expect(mine[6].payload).toBe('{"jsonrpc":"2.0","id":8,"meth');
    }
    // The ping echoed back is, to the capture, a request from the server: the pair stays unmatched.
    expect(messages.filter((m) => m.kind === 'request').every((m) => m.correlatedSeq == null)).toBe(true);
  });
});
