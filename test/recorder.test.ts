import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { Exchange, RpcMessage, Session } from '../src/model/model.js';
import { openDatabase } from '../src/store/db.js';
import { RecorderClient } from '../src/store/recorder-client.js';
import { CaptureStore } from '../src/store/read.js';
import { tempDb } from './helpers/tmp.js';
import type { StreamFacts } from '../src/capture/streams.js';
import type { Worker } from 'node:worker_threads';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { Turn } from '../src/capture/turn.js';
import { TurnReader } from '../src/store/turns-read.js';
import { unsavedLines } from '../src/store/jsonl.js';

// The recorder thread with a real database: every message arrives, and when the database is behind
// by more than the allowed bytes, big payloads are stored cut and flagged rather than held in memory.

const tmp = tempDb();
afterAll(() => tmp.cleanup());

const session: Session = {
  id: 'a1b2c3d4e5f6', label: 'rec', transport: 'streamable-http', target: 'http://x', mcpSessionId: null, protocolVersion: null,
  clientInfo: null, serverInfo: null, clientCapabilities: null, serverCapabilities: null, startedAt: 1, endedAt: null, endReason: null,
  messageCount: 0, errorCount: 0, exchangeCount: 0,
};
const message = (seq: number, payload: string): RpcMessage => ({
  sessionId: session.id, seq, exchangeId: null, ts: seq, direction: 'server->client', channel: 'get-sse', kind: 'notification', rpcId: null,
  method: 'notifications/message', subject: null, payload, truncated: false, size: payload.length, correlatedSeq: null, latencyMs: null,
  sseEventId: null, batchIndex: null, isError: false, errorCode: null, decodeError: null,
});

describe('RecorderClient', () => {
  it('keeps every message and cuts big payloads while the database thread is behind', async () => {
    const db = path.join(tmp.dir, 'rec.db');
    openDatabase(db, { create: true }).close();
    const warnings: string[] = [];
    // 64 KB may be in flight: a burst of 100 × 16 KB is far more than that.
    const rec = new RecorderClient(db, (w) => warnings.push(w), 1, 64 * 1024);
    rec.session(session);
    const big = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { data: 'x'.repeat(16_000) } });
    for (let seq = 1; seq <= 100; seq++) {
      rec.message(message(seq, big));
      // Let the 1 ms batch timer fire now and then, as live traffic does.
      if (seq % 10 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    expect(await rec.flush()).toBe(true);
    expect(await rec.close()).toBeNull();
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const msgs = store.messages(session.id);
      expect(msgs.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      const cut = msgs.filter((m) => m.truncated);
      expect(rec.cut).toBe(cut.length);
      expect(cut.length).toBeGreaterThan(0);
      expect(cut.every((m) => m.payload.length === 4096 && big.startsWith(m.payload))).toBe(true);
      expect(msgs.filter((m) => !m.truncated).every((m) => m.payload === big)).toBe(true);
      expect(warnings[0]).toMatch(/behind the traffic/);
    } finally {
      store.close();
    }
  });

  it('stores text exactly as captured, whatever its characters, and the latest state of a row sent twice', async () => {
    const db = path.join(tmp.dir, 'text.db');
    openDatabase(db, { create: true }).close();
    const rec = new RecorderClient(db, () => {}, 1);
    const s2 = { ...session, id: 'f00dfeedbeef' };
    rec.session(s2);
    const texts = ['{"jsonrpc":"2.0","method":"x","params":{"t":"héllo — 東京 🚀"}}', '', 'not json \u0000 but NUL-free', 'x'.repeat(70_000) + 'é'];
    const msgs = texts.map((t, i) => ({ ...message(i + 1, t), sessionId: s2.id }));
    for (const m of msgs) rec.message(m);
    const ex: Exchange = {
      id: 'ex-text', sessionId: s2.id, kind: 'http', method: 'POST', url: '/mcp', upstreamUrl: 'http://x/mcp', status: 200,
      requestHeaders: [['content-type', 'application/json']], responseHeaders: null, startedAt: 1, firstByteAt: null, endedAt: null,
      requestBytes: 3, responseBytes: 0, requestBody: 'ünï', responseBody: '', requestTruncated: false, responseTruncated: false,
      failure: null, aborted: false, closedBy: null, rewrites: [], clientAddress: null,
    };
    rec.exchange(ex);
    expect(await rec.flush()).toBe(true);
    // Updated after it was written: the row is rewritten, payload and all.
    msgs[0].latencyMs = 12.5;
    msgs[0].correlatedSeq = 2;
    rec.message(msgs[0]);
    ex.responseBody = '{"ok":"✓"}';
    rec.exchange(ex);
    expect(await rec.close()).toBeNull();
    // Written the packed way, not rescued by the retry path.
    expect(rec.stats).toMatchObject({ failures: 0, written: 8 });
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const got = store.messages(s2.id);
      expect(got.map((m) => m.payload)).toEqual(texts);
      expect(got[0]).toMatchObject({ latencyMs: 12.5, correlatedSeq: 2 });
      const e = store.exchanges(s2.id).find((x) => x.id === 'ex-text');
      expect(e).toMatchObject({ requestBody: 'ünï', responseBody: '{"ok":"✓"}', requestHeaders: [['content-type', 'application/json']] });
    } finally {
      store.close();
    }
    const raw = openDatabase(db, { readonly: true });
    try {
      const types = raw.prepare(`SELECT DISTINCT typeof(payload) AS t FROM messages WHERE session_id = ?`).all(s2.id) as Array<{ t: string }>;
      expect(types).toEqual([{ t: 'text' }]);
    } finally {
      raw.close();
    }
  });
});

describe('a database outage', () => {
  it('stream facts updated while the database was locked keep their newest state after it recovers', async () => {
    const db = path.join(tmp.dir, 'outage.db');
    openDatabase(db, { create: true }).close();
    const rec = new RecorderClient(db, () => {}, 1);
    const s3 = { ...session, id: 'facefeed0001' };
    const ex: Exchange = {
      id: 'ex-stream', sessionId: s3.id, kind: 'http', method: 'GET', url: '/mcp', upstreamUrl: 'http://x/mcp', status: 200,
      requestHeaders: [], responseHeaders: [['content-type', 'text/event-stream']], startedAt: 1, firstByteAt: 2, endedAt: null,
      requestBytes: 0, responseBytes: 0, requestBody: null, responseBody: null, requestTruncated: false, responseTruncated: false,
      failure: null, aborted: false, closedBy: null, rewrites: [], clientAddress: null,
    };
    const facts = (events: number, closedAt: number | null): StreamFacts => ({
      exchangeId: ex.id, sessionId: s3.id, carrier: 'get-sse', openedAt: 1, firstByteAt: 2, lastEventAt: 10 * events, lastActivityAt: 10 * events,
      events, keepAlives: 0, bytes: 100 * events, longestSilenceMs: 10, closedAt, closedBy: closedAt == null ? null : 'server', resumedFrom: null,
    });
    const locker = openDatabase(db);
    locker.prepare('BEGIN EXCLUSIVE').run();
    try {
      rec.session(s3);
      rec.exchange(ex);
      rec.stream(facts(1, null));
      expect(await rec.flush()).toBe(false);
      rec.stream(facts(5, 60));
      expect(await rec.flush()).toBe(false);
    } finally {
      locker.prepare('ROLLBACK').run();
      locker.close();
    }
    expect(await rec.close()).toBeNull();
    const store = CaptureStore.open(db, { readonly: true });
    try {
      expect(store.streams(s3.id)).toMatchObject([{ events: 5, closedAt: 60, closedBy: 'server' }]);
    } finally {
      store.close();
    }
  });

  it('when the database thread dies, what it had not stored comes back for the rescue file', async () => {
    const db = path.join(tmp.dir, 'dies.db');
    openDatabase(db, { create: true }).close();
    const warnings: string[] = [];
    const rec = new RecorderClient(db, (w) => warnings.push(w), 1);
    const s4 = { ...session, id: 'deadbeef0001' };
    const locker = openDatabase(db);
    locker.prepare('BEGIN EXCLUSIVE').run();
    try {
      rec.session(s4);
      rec.message({ ...message(1, '{"jsonrpc":"2.0","method":"before"}'), sessionId: s4.id });
      // Sent, and held in the thread's retry backlog: not in the database.
      expect(await rec.flush()).toBe(false);
      // The thread dies of an error of its own (a batch it cannot read). Terminating it instead could land inside a
      // SQLite call waiting on the lock, which better-sqlite3 turns into a fatal V8 error of the whole process.
      const worker = (rec as unknown as { worker: Worker }).worker;
      const exited = new Promise((r) => worker.once('exit', r));
      worker.postMessage({ type: 'batch', seq: 0, bytes: 0, batch: null, model: null });
      await exited;
      rec.message({ ...message(2, '{"jsonrpc":"2.0","method":"after"}'), sessionId: s4.id });
    } finally {
      locker.prepare('ROLLBACK').run();
      locker.close();
    }
    const left = await rec.close();
    expect(left!.sessions.map((s) => s.id)).toEqual([s4.id]);
    expect(left!.messages.map((m) => m.payload)).toEqual(['{"jsonrpc":"2.0","method":"before"}', '{"jsonrpc":"2.0","method":"after"}']);
    expect(warnings.some((w) => w.startsWith('capture database thread failed'))).toBe(true);
  });
});

describe('every record kind on the one path to the database thread', () => {
  const conv: Session = { ...session, id: 'c0nversat10n', transport: 'model-api' };
  const mcp: Session = { ...session, id: 'mcpsess10n01' };
  const turn: Turn = {
    sessionId: conv.id, seq: 1, exchangeId: 'ex-turn', ts: 100, endedAt: 150, api: 'anthropic-messages', model: 'claude-x', stream: true, status: 200,
    toolsHash: 'a'.repeat(32), systemHash: null, toolNamesHash: null, stopReason: 'tool_use', usage: { input_tokens: 3 }, error: null,
    text: 'Je vais appeler l’outil — 東京 🚀', messageCount: 1, mcpListings: [], mcpServers: [], serverResults: [],
    toolUses: [{ id: 'toolu_rescue', name: 'mcp__srv__echo', input: { message: 'hé' }, inputText: '{"message":"hé"}', kind: 'tool_use', serverLabel: null }],
    toolResults: [{ toolUseId: 'toolu_before', isError: true, text: 'x'.repeat(70_000) + 'é' }],
  };
  const blob = { hash: 'a'.repeat(32), text: JSON.stringify([{ name: 'mcp__srv__echo', description: 'ëcho' }]) };
  const call: RpcMessage = {
    ...message(1, '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hé"},"_meta":{"claudecode/toolUseId":"toolu_rescue"}}}'),
    sessionId: mcp.id, ts: 160, direction: 'client->server', channel: 'request-body', kind: 'request', rpcId: 1, method: 'tools/call',
  };
  const stream: StreamFacts = {
    exchangeId: 'ex-get', sessionId: mcp.id, carrier: 'get-sse', openedAt: 1, firstByteAt: 2, lastEventAt: 50, lastActivityAt: 55,
    events: 5, keepAlives: 1, bytes: 500, longestSilenceMs: 10, closedAt: 60, closedBy: 'server', resumedFrom: null,
  };
  const recordAll = (rec: RecorderClient) => {
    rec.session(conv);
    rec.session(mcp);
    rec.blob(blob);
    rec.turn(turn);
    rec.message(call);
    rec.stream(stream);
  };
  const expectAll = (db: string) => {
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const reader = new TurnReader(store);
      const [t] = reader.turns(conv.id);
      expect(t).toMatchObject({ text: turn.text, usage: turn.usage, toolResults: turn.toolResults, toolUses: [{ id: 'toolu_rescue', input: { message: 'hé' } }] });
      expect(reader.blob(blob.hash)).toBe(blob.text);
      const raw = store.db.prepare(`SELECT * FROM streams WHERE exchange_id = 'ex-get'`).get() as Record<string, unknown>;
      expect(raw).toMatchObject({ events: 5, closed_by: 'server', keep_alives: 1 });
      expect(reader.conversation(conv).turns[0].toolUses[0]).toMatchObject({ linkedBy: 'tool-use-id', mcpCall: { session: mcp.id, seq: 1 } });
    } finally {
      store.close();
    }
  };

  it('turns, blobs, calls and stream facts are packed and stored exactly, and the link made', async () => {
    const db = path.join(tmp.dir, 'kinds.db');
    openDatabase(db, { create: true }).close();
    const rec = new RecorderClient(db, () => {}, 1);
    recordAll(rec);
    expect(await rec.close()).toBeNull();
    expect(rec.stats).toMatchObject({ failures: 0, written: 6 });
    expectAll(db);
  });

  it('when the database thread dies with them unstored, the rescue file holds every kind and mcptap import puts them back', async () => {
    const db = path.join(tmp.dir, 'kinds-dies.db');
    openDatabase(db, { create: true }).close();
    const rec = new RecorderClient(db, () => {}, 1);
    const locker = openDatabase(db);
    locker.prepare('BEGIN EXCLUSIVE').run();
    try {
      recordAll(rec);
      expect(await rec.flush()).toBe(false);
      const worker = (rec as unknown as { worker: Worker }).worker;
      const exited = new Promise((r) => worker.once('exit', r));
      worker.postMessage({ type: 'batch', seq: 0, bytes: 0, batch: null });
      await exited;
    } finally {
      locker.prepare('ROLLBACK').run();
      locker.close();
    }
    const left = (await rec.close())!;
    expect([left.turns?.length, left.blobs?.length, left.messages.length, left.streams?.length]).toEqual([1, 1, 1, 1]);
    const rescue = path.join(tmp.dir, 'kinds.unsaved.jsonl');
    fs.writeFileSync(rescue, unsavedLines(db, left).join('\n') + '\n');
    const r = spawnSync(process.execPath, [path.resolve('dist/src/cli/main.js'), 'import', rescue, '--db', db], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expectAll(db);
  });
});

describe('schema migrations', () => {
  it('reads a schema-1 database as it is, and a writer moves it to the current schema without the write-costly indexes', async () => {
    const file = path.join(tmp.dir, 'v1.db');
    const Database = (await import('better-sqlite3')).default;
    const { MIGRATIONS, SCHEMA_VERSION } = await import('../src/store/migrations.js');
    const old = new Database(file);
    MIGRATIONS[0](old);
    old.pragma('user_version = 1');
    old.prepare(`INSERT INTO sessions (id, transport, target, started_at) VALUES ('0123456789ab', 'http', 'http://x', 1)`).run();
    old.close();

    const reader = CaptureStore.open(file, { readonly: true });
    expect(reader.listSessions().map((s) => s.id)).toEqual(['0123456789ab']);
    reader.close();

    const db = openDatabase(file);
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const indexes = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'`).all() as Array<{ name: string }>).map((r) => r.name);
      expect(indexes).toContain('messages_session_seq');
      expect(indexes).not.toContain('messages_session_method');
      expect(indexes).not.toContain('messages_session_kind');
    } finally {
      db.close();
    }
  });
});
