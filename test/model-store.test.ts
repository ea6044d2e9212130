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

describe('deleting a conversation (mcptap prune)', () => {
  it('takes its turns, tool uses, results and the blobs no other turn names', async () => {
    const { Recorder } = await import('../src/store/recorder.js');
    const file = path.join(tmp.dir, 'prune.db');
    const db = openDatabase(file, { create: true });
    const rec = new Recorder(db);
    const base = { label: null, transport: 'model-api' as const, target: 't', mcpSessionId: null, protocolVersion: null, clientInfo: null, serverInfo: null,
      clientCapabilities: null, serverCapabilities: null, startedAt: 1, endedAt: null, endReason: null, messageCount: 1, errorCount: 0, exchangeCount: 1 };
    const turn = (sessionId: string, toolsHash: string) => ({ sessionId, seq: 1, exchangeId: 'e', ts: 1, endedAt: 2, api: 'anthropic-messages' as const, model: 'm', stream: false,
      status: 200, toolsHash, systemHash: null, toolNamesHash: null, toolUses: [{ id: 'toolu_1', name: 'x', input: {}, inputText: '{}', kind: 'tool_use' as const, serverLabel: null }],
      toolResults: [{ toolUseId: 'toolu_0', isError: false, text: 'r' }], serverResults: [], mcpListings: [], mcpServers: [], stopReason: 'tool_use', usage: null, error: null, text: '', messageCount: 1 });
    rec.session({ ...base, id: 'aaaaaaaaaaaa' });
    rec.session({ ...base, id: 'bbbbbbbbbbbb' });
    rec.blob({ hash: 'h-shared', text: '[]' });
    rec.blob({ hash: 'h-own', text: '[1]' });
    rec.turn(turn('aaaaaaaaaaaa', 'h-own'));
    rec.turn(turn('bbbbbbbbbbbb', 'h-shared'));
    expect(rec.close()).toBe(true);
    db.close();
    const store = CaptureStore.open(file);
    try {
      store.deleteSessions(['aaaaaaaaaaaa']);
      const count = (t: string) => (store.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
      expect([count('turns'), count('tool_uses'), count('tool_results')]).toEqual([1, 1, 1]);
      expect(store.db.prepare(`SELECT hash FROM blobs`).all()).toEqual([{ hash: 'h-shared' }]);
      expect(new TurnReader(store).turns('bbbbbbbbbbbb')[0].toolUses[0].id).toBe('toolu_1');
    } finally {
      store.close();
    }
  });
});
