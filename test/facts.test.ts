import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { WebSocket, WebSocketServer } from 'ws';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { openDatabase } from '../src/store/db.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../src/store/migrations.js';
import { readRecording } from '../src/store/jsonl.js';
import { runChecks } from '../src/analysis/checks/engine.js';
import type { Exchange, RpcMessage } from '../src/model/model.js';
import { tempDb, until } from './helpers/tmp.js';

// Facts as data: what went wrong and what the proxy changed are kinds with fields, produced by real
// faults, and the sentences older versions wrote (a schema-5 database, a version-1 recording of the same
// faults, made by the mcptap before this change with test/record-fault-fixture.ts) read back as the same kinds.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
const OLD = path.resolve('test/fixtures/recording-v1-faults.jsonl');
const NEW = path.resolve('test/fixtures/recording-v3.jsonl');
const servers: http.Server[] = [];

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  tmp.cleanup();
});

/** Each exchange's path, failure and rewrite kinds; each broken message's decode error kind. Ports left out. */
function facts(exchanges: Exchange[], messages: RpcMessage[]) {
  return {
    exchanges: exchanges.map((e) => [e.method, e.url.split('?')[0], e.failure?.kind ?? null, e.rewrites.map((r) => r.kind)]),
    messages: messages.filter((m) => m.decodeError).map((m) => [m.seq, m.decodeError!.kind, m.decodeError!.kind === 'unread-sse-event' ? m.decodeError!.detail : '']),
  };
}

const EXPECTED = {
  exchanges: [
    ['GET', '/sse', 'body-cut', ['sse-endpoint']],
    ['POST', '/message', null, []],
    ['POST', '/message', 'decoding-failed', []],
    ['POST', '/moved', null, ['location']],
    ['POST', '/private', null, ['oauth-challenge']],
    ['POST', '/slow', 'client-aborted', []],
    ['POST', '/message', 'upstream-unreachable', []],
  ],
  messages: [[3, 'not-json', ''], [4, 'unread-sse-event', 'rpc'], [5, 'invalid-jsonrpc', '']],
};

describe('facts recorded by older versions', () => {
  it('a version-1 recording of real faults reads as the kinds the current capture records for them', () => {
    const old = readRecording(OLD);
    expect(old.version).toBe(1);
    expect(facts(old.exchanges, old.messages)).toEqual(EXPECTED);
    const now = readRecording(NEW);
    expect(facts(now.exchanges, now.messages)).toEqual(EXPECTED);
    const unreachable = old.exchanges.at(-1)!.failure;
    expect(unreachable).toEqual({ kind: 'upstream-unreachable', code: 'ECONNREFUSED', message: expect.stringMatching(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/) });
    expect(old.exchanges[2].failure).toEqual({ kind: 'decoding-failed', body: 'request', detail: 'gzip: incorrect header check' });
    expect(old.exchanges[0].rewrites[0]).toEqual({ kind: 'sse-endpoint', before: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/message\?sessionId=fixture-session-1$/), after: expect.stringMatching(/\/message\?sessionId=fixture-session-1$/) });
  });

  it('a schema-5 database reads its sentences as kinds read-only, and a writing open migrates them to the fact columns', () => {
    const file = path.join(tmp.dir, 'schema5.db');
    const old = readRecording(OLD);
    seedSchema5(file, rawRecording(OLD));

    const reader = CaptureStore.open(file, { readonly: true });
    try {
      expect(facts(reader.exchanges(old.session.id), reader.messages(old.session.id))).toEqual(EXPECTED);
      expect(reader.exchanges(old.session.id)).toEqual(old.exchanges.map((e) => ({ ...e, closedBy: e.closedBy ?? null })));
    } finally {
      reader.close();
    }

    openDatabase(file).close();
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const rows = raw.prepare(`SELECT failure, rewrites FROM exchanges ORDER BY started_at`).all() as Array<{ failure: string | null; rewrites: string | null }>;
      expect(rows.map((r) => r.failure && JSON.parse(r.failure).kind)).toEqual(EXPECTED.exchanges.map((e) => e[2]));
      const decode = raw.prepare(`SELECT decode_error FROM messages WHERE decode_error IS NOT NULL ORDER BY seq`).all() as Array<{ decode_error: string }>;
      expect(decode.map((r) => JSON.parse(r.decode_error).kind)).toEqual(['not-json', 'unread-sse-event', 'invalid-jsonrpc']);
    } finally {
      raw.close();
    }
    const store = CaptureStore.open(file, { readonly: true });
    try {
      expect(facts(store.exchanges(old.session.id), store.messages(old.session.id))).toEqual(EXPECTED);
    } finally {
      store.close();
    }

    // What people see is rendered from the kinds: the same words as before for the same faults.
    const shown = run('show', old.session.id, '--exchanges', '--db', file);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/GET\s+\/sse .*upstream closed the connection mid-response {2}rewrote endpoint http:\/\/127\.0\.0\.1:\d+\/message\?sessionId=fixture-session-1 → /);
    expect(shown.stdout).toMatch(/ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:\d+/);
    expect(shown.stdout).toContain('request body not decoded: gzip: incorrect header check');
    expect(shown.stdout).toContain('invalid JSON-RPC: sent as SSE event "rpc"');
  });

  it('the rules read the kinds, whichever version recorded them', () => {
    for (const rec of [readRecording(OLD), readRecording(NEW)]) {
      const found = runChecks({ session: rec.session, exchanges: rec.exchanges, messages: rec.messages });
      // Told under their cause or on their own: the stream rules fold the cut of the GET stream under its drop.
      const titles = found.flatMap((f) => [f, ...(f.caused ?? [])]).map((f) => `${f.ruleId}: ${f.title}`);
      expect(titles).toEqual(expect.arrayContaining([
        expect.stringMatching(/^upstream-failure: POST \/message: the upstream could not be reached \(ECONNREFUSED: connect ECONNREFUSED/),
        'upstream-failure: GET /sse: the upstream closed the connection in the middle of the response',
        expect.stringMatching(/^endpoint-rewrite: the server's endpoint event named the upstream directly; mcptap rewrote it \(endpoint http/),
        'invalid-jsonrpc: the server sent invalid JSON-RPC: sent as SSE event "rpc": clients read only "message" events, so none will see it',
      ]));
    }
    // The client giving up is no upstream failure (the older proxy answered it 502 itself, and that stays on record).
    const now = readRecording(NEW);
    expect(runChecks({ session: now.session, exchanges: now.exchanges, messages: now.messages }).filter((f) => f.title.includes('/slow'))).toEqual([]);
  });
});

describe('facts in exports', () => {
  it('HAR carries each failure and rewrite as text DevTools shows and as the facts', () => {
    const db = path.join(tmp.dir, 'har.db');
    expect(run('import', NEW, '--db', db).status).toBe(0);
    const out = path.join(tmp.dir, 'faults.har');
    expect(run('export', readRecording(NEW).session.id, '--format', 'har', '-o', out, '--db', db).status).toBe(0);
    const entries = (JSON.parse(fs.readFileSync(out, 'utf8')) as { log: { entries: Array<Record<string, any>> } }).log.entries;
    const dead = entries.find((e) => e._mcptapFailure?.kind === 'upstream-unreachable')!;
    expect(dead._error).toMatch(/^ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    const stream = entries.find((e) => e._resourceType === 'eventsource')!;
    expect(stream._mcptapFailure).toEqual({ kind: 'body-cut', body: 'response', by: 'server', code: null });
    expect(stream._mcptapRewrites.map((r: { kind: string }) => r.kind)).toEqual(['sse-endpoint']);
    expect(stream.comment).toMatch(/^mcptap rewrote endpoint http:\/\/127\.0\.0\.1:\d+\/message\?sessionId=fixture-session-1 → /);
  });
});

describe('facts from real faults', () => {
  it('an unreachable upstream: its errno on the exchange, and x-mcptap-error names the kind', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const { exchanges, headers } = await through(`http://127.0.0.1:${port}`, 'dead', async (url) => {
      const r = await fetch(url + '/mcp', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
      await r.text();
      return r.headers;
    });
    expect(headers.get('x-mcptap-error')).toBe('upstream-unreachable');
    expect(exchanges.map((e) => [e.status, e.failure])).toEqual([[502, { kind: 'upstream-unreachable', code: 'ECONNREFUSED', message: `connect ECONNREFUSED 127.0.0.1:${port}` }]]);
  });

  it('a client that gives up: client-aborted, with no answer of the proxy\'s own recorded for it', async () => {
    // The first request answers, so that the second goes over a kept-alive connection, as in a session.
    let calls = 0;
    const upstream = await serve((req, res) => {
      req.resume();
      if (calls++ === 0) res.end('{}');
    });
    const { exchanges } = await through(upstream, 'gave-up', async (url) => {
      await fetch(url + '/first').then((r) => r.text());
      const ac = new AbortController();
      const r = fetch(url + '/mcp', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}', signal: ac.signal }).catch((e: Error) => e);
      await until(() => calls === 2, 'the request upstream');
      ac.abort();
      expect(await r).toBeInstanceOf(Error);
    });
    expect(exchanges.slice(1).map((e) => [e.status, e.aborted, e.closedBy, e.failure])).toEqual([[null, true, 'client', { kind: 'client-aborted' }]]);
  });

  it('a refused WebSocket upgrade and a WebSocket client that drops the connection', async () => {
    const upstream = await serve((req, res) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('no websockets here');
    });
    const refused = await through(upstream, 'ws-refused', async (url) => {
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(url.replace(/^http/, 'ws') + '/mcp', 'mcp');
        ws.once('unexpected-response', (_req, r) => resolve(r.statusCode ?? 0));
        ws.once('error', reject);
      });
      expect(status).toBe(400);
    });
    expect(refused.exchanges.map((e) => [e.kind, e.status, e.failure])).toEqual([['websocket', 400, { kind: 'upgrade-refused', status: 400 }]]);

    const wsUpstream = http.createServer();
    servers.push(wsUpstream);
    const wss = new WebSocketServer({ server: wsUpstream });
    wss.on('connection', (ws) => ws.on('error', () => {}));
    await new Promise<void>((r) => wsUpstream.listen(0, '127.0.0.1', r));
    const dropped = await through(`http://127.0.0.1:${(wsUpstream.address() as AddressInfo).port}`, 'ws-dropped', async (url) => {
      const ws = new WebSocket(url.replace(/^http/, 'ws') + '/mcp', 'mcp');
      await new Promise((r) => ws.once('open', r));
      ws.send('{"jsonrpc":"2.0","id":1,"method":"ping"}');
      const gone = new Promise((r) => ws.once('close', r));
      ws.terminate();
      await gone;
    });
    wss.close();
    expect(dropped.exchanges.map((e) => [e.status, e.aborted, e.closedBy, e.failure])).toEqual([[101, true, 'client', { kind: 'client-aborted' }]]);
  });
});

/** Runs `drive` through a fresh proxy to `target`; the exchanges of the sessions it made, in order. */
async function through<T>(target: string, label: string, drive: (url: string) => Promise<T>): Promise<{ exchanges: Exchange[] } & (T extends Headers ? { headers: Headers } : object)> {
  const proxy = await startProxy({ target, port: 0, db: tmp.db, label, onWarning: () => {} });
  let result: T;
  try {
    result = await drive(proxy.url);
    await proxy.flush();
  } finally {
    await proxy.close();
  }
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    const exchanges = store.listSessions().filter((s) => s.label === label).flatMap((s) => store.exchanges(s.id));
    return { exchanges, ...(result instanceof Headers ? { headers: result } : {}) } as never;
  } finally {
    store.close();
  }
}

/** An upstream on a free port that hands each request to `handler`; its URL. */
async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A recording's lines as written, before any conversion: what an older mcptap put in its database. */
function rawRecording(file: string): { session: Record<string, unknown>; exchanges: Array<Record<string, unknown>>; messages: Array<Record<string, unknown>> } {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  return {
    session: lines[0].session,
    exchanges: lines.filter((l) => l.type === 'exchange').map((l) => l.exchange),
    messages: lines.filter((l) => l.type === 'message').map((l) => l.message),
  };
}

/** A database at schema 5 (the last before facts as data) holding those records in its own columns. */
function seedSchema5(file: string, rec: ReturnType<typeof rawRecording>): void {
  const db = new Database(file);
  for (let v = 0; v < 5; v++) MIGRATIONS[v](db);
  db.pragma('user_version = 5');
  const column = (k: string) => k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
  const value = (v: unknown) => (v == null ? null : typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'object' ? JSON.stringify(v) : v);
  const insert = (table: string, obj: Record<string, unknown>, rename: Record<string, string> = {}) => {
    const keys = Object.keys(obj);
    const cols = keys.map((k) => rename[k] ?? column(k));
    db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`).run(...keys.map((k) => (k === 'rpcId' && obj[k] != null ? JSON.stringify(obj[k]) : value(obj[k]))));
  };
  insert('sessions', rec.session);
  for (const e of rec.exchanges) insert('exchanges', e);
  for (const m of rec.messages) insert('messages', m);
  db.close();
}
