import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { CaptureStore } from '../src/store/read.js';
import { startJsonServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// The proxy as a process, and what happens to it: killed with -9 in the middle of a flood, and a
// disk that fills up under it. Traffic must not notice, and nothing acknowledged may be lost.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const children = new Set<ChildProcess>();
let upstream: Peer;

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await upstream?.close();
  tmp.cleanup();
});

async function rpcUpstream(): Promise<Peer> {
  upstream ??= await startJsonServer((m, res, req) => {
    // The proxy's start-up probe also GETs the target: a bodiless request has no JSON-RPC id to answer.
    if (m?.id === undefined) return void res.writeHead(405).end();
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': String(req.headers['mcp-session-id'] ?? 'fault') });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: String(m.params?.text ?? '') }] } }));
  });
  return upstream;
}

/** `mcptap proxy` as a child process (under `prefix`, e.g. prlimit); resolves with its URL once it listens. */
async function proxyProcess(db: string, prefix: string[] = []): Promise<{ child: ChildProcess; url: string; err: () => string; exited: Promise<number | null> }> {
  const up = await rpcUpstream();
  const argv = [process.execPath, cli, 'proxy', '--target', up.url, '--port', '0', '--db', db, '--no-live-checks'];
  const child = spawn(prefix[0] ?? argv[0], [...prefix.slice(1), ...(prefix.length ? argv : argv.slice(1))], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await until(() => /listening on (http:\/\/\S+)/.test(out), 'the banner', 60_000).catch((e) => { throw new Error(`${e.message}: ${err}`); });
  return { child, url: /listening on (http:\/\/\S+)/.exec(out)![1], err: () => err, exited };
}

const call = (url: string, session: string, id: number, text: string) => fetch(url + '/mcp', {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': session },
  body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: {}, text } }),
}).then(async (r) => ({ status: r.status, text: await r.text() }));

/** Every stored session's messages numbered 1..n with no gap, each pointing at a stored exchange. */
function wholeSessions(db: string): Map<string, number> {
  const store = CaptureStore.open(db, { readonly: true });
  try {
    const out = new Map<string, number>();
    for (const s of store.listSessions()) {
      const exchanges = new Set(store.exchanges(s.id).map((e) => e.id));
      const msgs = store.messages(s.id);
      expect(msgs.map((m) => m.seq), s.id).toEqual(msgs.map((_, i) => i + 1));
      expect(msgs.every((m) => m.exchangeId != null && exchanges.has(m.exchangeId)), s.id).toBe(true);
      out.set(s.mcpSessionId ?? s.id, msgs.length);
    }
    return out;
  } finally {
    store.close();
  }
}

describe('kill -9 in the middle of a flood of calls', () => {
  it('leaves a database that opens, with every committed batch whole, and a restarted proxy appends to it', async () => {
    const db = path.join(tmp.dir, 'killed.db');
    const p = await proxyProcess(db);
    let stop = false;
    const flood = Promise.all(Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await call(p.url, `flood-${c}`, i, `c${c} #${i}`);
          expect(r.status).toBe(200);
        } catch {
          return; // the proxy is gone
        }
      }
    }));
    // Let batches commit, read what is committed, then kill the process between or during writes.
    await until(() => fs.existsSync(db) && countMessages(db) >= 400, 'some committed batches', 60_000);
    const committed = countMessages(db);
    p.child.kill('SIGKILL');
    await p.exited;
    stop = true;
    await flood;
    const check = new Database(db);
    try {
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
    const before = wholeSessions(db);
    expect([...before.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(committed);
    // A new proxy on the same file adds sessions and leaves the old ones as they were.
    const again = await proxyProcess(db);
    expect((await call(again.url, 'after-restart', 1, 'hello again')).status).toBe(200);
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
    const after = wholeSessions(db);
    expect(after.get('after-restart')).toBe(2);
    for (const [id, n] of before) expect(after.get(id), id).toBe(n);
  });
});

function countMessages(db: string): number {
  try {
    const d = new Database(db, { readonly: true, fileMustExist: true });
    try {
      return (d.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
    } finally {
      d.close();
    }
  } catch {
    return 0;
  }
}

describe('a disk that fills up', () => {
  // A 512 KB filesystem of the test's own for the database (mounting one needs root; skipped without).
  const disk = path.join(tmp.dir, 'small-disk');
  fs.mkdirSync(disk);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', disk]).status === 0;
  afterAll(() => void (mounted && spawnSync('umount', [disk])));

  it.skipIf(!mounted)('warns once, keeps traffic flowing, leaves what it could not write in a rescue file elsewhere, and import puts it back', async () => {
    const db = path.join(disk, 'full.db');
    const elsewhere = path.join(tmp.dir, 'rescued');
    fs.mkdirSync(elsewhere);
    // The temp folder is where the rescue file goes when the database's own disk is full.
    const p = await proxyProcess(db, ['env', `TMPDIR=${elsewhere}`]);
    const payload = 'z'.repeat(2000);
    // About 4 × 2 KB stored per call: 400 calls are three times the disk.
    const CALLS = 400;
    for (let i = 0; i < CALLS; i++) {
      const r = await call(p.url, 'full-disk', i, `${i} ${payload}`);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text).result.content[0].text).toBe(`${i} ${payload}`);
    }
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    const warnings = p.err().split('\n').filter((l) => l.startsWith('mcptap: warning'));
    // One warning when writes start failing, one naming the rescue file at shutdown.
    expect(warnings.filter((l) => !l.includes('mcptap import')), p.err()).toEqual([expect.stringMatching(/^mcptap: warning: capture database write failed \(database or disk is full\); traffic keeps flowing/)]);
    const rescue = /they are in (\S+)/.exec(p.err())?.[1];
    expect(path.dirname(rescue ?? ''), p.err()).toBe(elsewhere);
    // The database and the rescue file, moved to a disk with room, are every call whole.
    const roomy = path.join(tmp.dir, 'roomy.db');
    for (const suffix of ['', '-wal']) if (fs.existsSync(db + suffix)) fs.copyFileSync(db + suffix, roomy + suffix);
    const r = spawnSync(process.execPath, [cli, 'import', rescue!, '--db', roomy], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(wholeSessions(roomy).get('full-disk')).toBe(CALLS * 2);
  });
});
