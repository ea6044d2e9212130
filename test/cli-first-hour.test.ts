import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempDb } from './helpers/tmp.js';

// What a new user meets in the first hour on the command line: one line and exit 2 for each mistake,
// nothing left behind by a command that could not start.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const recording = path.resolve('recordings/everything-streamable-http.jsonl');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 20_000 });
let taken: net.Server;
let port: number;

beforeAll(async () => {
  taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  port = (taken.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => taken.close(r));
  tmp.cleanup();
});

describe('a port in use', () => {
  it('is one line and exit 2 for every command that listens, and leaves no empty database', () => {
    const db = path.join(tmp.dir, 'never.db');
    const proxy = run('proxy', '--target', 'http://127.0.0.1:9', '--port', String(port), '--db', db);
    const mock = run('mock', recording, '--port', String(port));
    for (const r of [proxy, mock]) {
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`mcptap: port ${port} is already in use on 127.0.0.1; pick another with --port (or --port 0 for a free one)\n`);
    }
    expect(fs.readdirSync(tmp.dir).filter((f) => f.startsWith('never.db'))).toEqual([]);
  });
});

describe('options', () => {
  it('a folder as --db says it is a folder and names a file to use', () => {
    for (const args of [['sessions'], ['proxy', '--target', 'http://127.0.0.1:9', '--port', '0']]) {
      const r = run(...args, '--db', tmp.dir);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`mcptap: ${tmp.dir} is a folder, not a database file; give a file in it, e.g. --db ${path.join(tmp.dir, 'captures.db')}\n`);
    }
  });

  it('--last takes a whole number and says so otherwise', () => {
    for (const v of ['x', '0', '-1', '2.5']) {
      const r = run('sessions', '--last', v, '--db', path.join(tmp.dir, 'none.db'));
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('--last must be a whole number from 1');
    }
  });
});
