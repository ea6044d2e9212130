import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '../src/store/db.js';
import { SCHEMA_VERSION } from '../src/store/migrations.js';
import { CaptureStore } from '../src/store/read.js';
import { TurnReader } from '../src/store/turns-read.js';
import { tempDb } from './helpers/tmp.js';

// The turns migration: a database written before it (schema 2) opens, keeps its sessions, and gets the
// turn tables; read-only, it is read as it is, with no conversations.

const tmp = tempDb();
afterAll(() => tmp.cleanup());
const cli = path.resolve('dist/src/cli/main.js');

function schema2(file: string): void {
  const db = new Database(file);
  migrate(db, 0, 2);
  db.prepare(`INSERT INTO sessions (id, transport, target, started_at) VALUES ('0123456789ab', 'streamable-http', 'http://x', 1)`).run();
  db.close();
}

describe('the turns migration', () => {
  it('read-only, a schema-2 database reads as before and has no conversations', () => {
    const file = path.join(tmp.dir, 'old-ro.db');
    schema2(file);
    const store = CaptureStore.open(file, { readonly: true });
    try {
      const reader = new TurnReader(store);
      expect(reader.available).toBe(false);
      expect(reader.turns('0123456789ab')).toEqual([]);
      expect(reader.causedCalls(store.getSession('0123456789ab')!).size).toBe(0);
    } finally {
      store.close();
    }
  });

  it('a writing open (the proxy, import) upgrades a schema-2 database to the turn tables, keeping its sessions', () => {
    const file = path.join(tmp.dir, 'old.db');
    schema2(file);
    openDatabase(file, { create: true }).close();
    const r = spawnSync(process.execPath, [cli, 'sessions', '--json', '--db', file], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).map((s: { id: string }) => s.id)).toEqual(['0123456789ab']);
    const db = openDatabase(file, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as Array<{ name: string }>).map((t) => t.name);
      expect(tables).toEqual(expect.arrayContaining(['blobs', 'tool_results', 'tool_uses', 'turns']));
    } finally {
      db.close();
    }
  });
});
