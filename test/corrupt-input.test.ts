import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFile, spawnSync } from 'node:child_process';
import { tempDb } from './helpers/tmp.js';

// Damaged files handed to the commands that read them: one line that says what is wrong, exit 2,
// and nothing written (the file as it was, no new files beside it).

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const FIXTURE = path.resolve('test/fixtures/recording-v1.jsonl');
let session: string;

const run = (args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
  const child = execFile(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
    resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }));
  child.stdin?.end();
});
const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir).map((f) => [f, createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')]));

/** Each damaged file in a folder of its own, so that anything written beside it shows. */
const damaged: Record<string, string> = {};
function put(name: string, bytes: Buffer): void {
  const dir = path.join(tmp.dir, name);
  fs.mkdirSync(dir);
  damaged[name] = path.join(dir, name.includes('.') ? name : name + '.db');
  fs.writeFileSync(damaged[name], bytes);
}

beforeAll(() => {
  const good = path.join(tmp.dir, 'good.db');
  const r = spawnSync(process.execPath, [cli, 'import', FIXTURE, '--db', good], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  session = /as session ([0-9a-f]{12})/.exec(r.stdout)![1];
  // Fold the WAL in, so that the file alone is the database.
  spawnSync(process.execPath, [cli, 'prune', '--label', 'no-such-label', '--db', good], { timeout: 60_000 });
  const bytes = fs.readFileSync(good);
  put('garbage', Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251)));
  put('truncated', bytes.subarray(0, Math.floor(bytes.length / 2)));
  // The header intact, three pages after it overwritten: it opens, and fails on a read.
  const pages = Buffer.from(bytes);
  pages.fill(0x5a, 8192, 8192 + 3 * 4096);
  put('pages', pages);
  const lines = fs.readFileSync(FIXTURE, 'utf8');
  put('cut.jsonl', Buffer.from(lines.slice(0, Math.floor(lines.length / 3))));
  put('binary.jsonl', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) % 256)));
  put('cut.har', Buffer.from('{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[{"request":'));
});

afterAll(() => tmp.cleanup());

describe('a damaged database', () => {
  const reading = (id: string) => [
    ['sessions'], ['show', id], ['check', id], ['export', id], ['diff', id, id], ['replay', id, '--target', 'http://127.0.0.1:9'],
    ['mock', id, '--port', '0'], ['prune', '--all'],
  ];
  it.each(['garbage', 'truncated', 'pages'])('%s: every reading command says so in one line, exits 2, and writes nothing', async (name) => {
    const before = snapshot(path.dirname(damaged[name]));
    // Every command on the file damaged inside; the quick ones on the others.
    const commands = name === 'pages' ? reading(session) : [['sessions'], ['show', session]];
    for (const args of commands) {
      const r = await run([...args, '--db', damaged[name]]);
      expect([r.status, r.stdout], args.join(' ')).toEqual([2, '']);
      expect(r.stderr, args.join(' ')).toMatch(/^mcptap: (cannot use database .*: (file is not a database|database disk image is malformed)|the capture database is damaged \(database disk image is malformed\); save what is left with: sqlite3 FILE \.recover \| sqlite3 recovered\.db)\n$/);
    }
    const after = snapshot(path.dirname(damaged[name]));
    // A file damaged inside opens, and SQLite makes its -wal and -shm as it does for any reader; the
    // database itself is untouched.
    if (name === 'pages') for (const f of Object.keys(after)) if (!(f in before)) expect(f).toMatch(/-(wal|shm)$/);
    else expect(after).toEqual(before);
    expect(after[path.basename(damaged[name])]).toBe(before[path.basename(damaged[name])]);
  });
});

describe('damaged recordings', () => {
  it.each([
    ['cut.jsonl', /^mcptap: .*cut\.jsonl:\d+: not JSON \(Unterminated string in JSON at position \d+\)\n$/],
    ['binary.jsonl', /^mcptap: .*binary\.jsonl:1: not JSON \(.*\)\n$/],
    ['cut.har', /^mcptap: .*cut\.har:1: not JSON \(Unexpected end of JSON input\)\n$/],
  ])('%s: import (and diff and mock, which read it the same way) say where in one line, exit 2, and write nothing', async (name, message) => {
    const dir = path.dirname(damaged[name]);
    const before = snapshot(dir);
    const db = path.join(dir, 'captures.db');
    const commands = name === 'cut.jsonl' ? [['import', damaged[name]], ['diff', damaged[name], FIXTURE], ['mock', damaged[name], '--port', '0']] : [['import', damaged[name]]];
    for (const args of commands) {
      const r = await run([...args, '--db', db]);
      expect([r.status, r.stdout], args[0]).toEqual([2, '']);
      expect(r.stderr, args[0]).toMatch(message);
    }
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('recordings with fields the model does not allow', () => {
  /** The fixture with its first message line changed by `edit`. */
  const variant = (name: string, edit: (m: Record<string, unknown>, all: Array<Record<string, unknown>>) => void): string => {
    const lines = fs.readFileSync(FIXTURE, 'utf8').split('\n');
    const objs = lines.map((l) => (l.trim() ? JSON.parse(l) as { type: string; message?: Record<string, unknown> } : null));
    const messages = objs.filter((o) => o?.type === 'message').map((o) => o!.message!);
    edit(messages[0], messages);
    const dir = path.join(tmp.dir, `fields-${name}`);
    fs.mkdirSync(dir);
    const file = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(file, objs.map((o) => (o ? JSON.stringify(o) : '')).join('\n'));
    return file;
  };
  it.each([
    ['negative seq', (m: Record<string, unknown>) => void (m.seq = -5), /seq: Too small|seq: Number must be greater than 0|seq/],
    ['fractional seq', (m: Record<string, unknown>) => void (m.seq = 1.5), /seq/],
    ['string seq', (m: Record<string, unknown>) => void (m.seq = 'seven'), /seq/],
    ['sideways', (m: Record<string, unknown>) => void (m.direction = 'sideways'), /direction/],
    ['another session', (m: Record<string, unknown>) => void (m.sessionId = 'ffffffffffff'), /belongs to session "ffffffffffff"/],
    ['object payload', (m: Record<string, unknown>) => void (m.payload = { jsonrpc: '2.0' }), /payload/],
    ['duplicate seq', (m: Record<string, unknown>, all: Array<Record<string, unknown>>) => void (m.seq = all[1].seq), /two messages have seq/],
  ])('%s: import says what in one line, exits 2, and leaves the database as it was', async (name, edit, message) => {
    const file = variant(name.replace(/ /g, '-'), edit);
    const dir = path.dirname(file);
    // Into an existing database, and into one that does not exist yet (no empty database left behind).
    const existing = path.join(dir, 'existing.db');
    const seeded = await run(['import', FIXTURE, '--db', existing]);
    expect(seeded.status, seeded.stderr).toBe(0);
    await run(['prune', '--label', 'no-such-label', '--db', existing]);
    const before = snapshot(dir);
    for (const db of [existing, path.join(dir, 'fresh.db')]) {
      const r = await run(['import', file, '--db', db]);
      expect([r.status, r.stdout]).toEqual([2, '']);
      expect(r.stderr).toMatch(/^mcptap: [^\n]*\n$/);
      expect(r.stderr).toMatch(message);
    }
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('a database in a read-only folder', () => {
  it('is read as it is on disk (SQLite cannot make its -shm there)', async () => {
    const dir = path.join(tmp.dir, 'readonly');
    fs.mkdirSync(dir);
    const db = path.join(dir, 'captures.db');
    expect((await run(['import', FIXTURE, '--db', db])).status).toBe(0);
    // Fold the WAL in and leave the file alone: the state of a copied or mounted database.
    await run(['prune', '--label', 'no-such-label', '--db', db]);
    for (const f of fs.readdirSync(dir)) if (f !== 'captures.db') fs.rmSync(path.join(dir, f));
    fs.chmodSync(db, 0o444);
    fs.chmodSync(dir, 0o555);
    // The test's own folder is private (0700): let the other user through it to the read-only one.
    fs.chmodSync(tmp.dir, 0o711);
    try {
      // Root ignores folder permissions: run the reader as nobody, as another user would be.
      const asOther = process.getuid?.() === 0 ? ['/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath]] as const : [process.execPath, []] as const;
      const read = (...args: string[]) => spawnSync(asOther[0], [...asOther[1], cli, ...args, '--db', db], { encoding: 'utf8', timeout: 60_000 });
      const sessions = read('sessions');
      expect(sessions.stderr).toBe('');
      expect(sessions.status).toBe(0);
      expect(sessions.stdout).toContain(session);
      const shown = read('show', session);
      expect(shown.status, shown.stderr).toBe(0);
      expect(shown.stdout).toContain('initialize');
      expect(fs.readdirSync(dir)).toEqual(['captures.db']);
    } finally {
      fs.chmodSync(dir, 0o755);
      fs.chmodSync(tmp.dir, 0o700);
    }
  });
});
