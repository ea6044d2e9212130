import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { migrate, openDatabase } from '../src/store/db.js';
import { SCHEMA_VERSION } from '../src/store/migrations.js';
import { CaptureStore } from '../src/store/read.js';
import { TurnReader } from '../src/store/turns-read.js';
import { listen } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { clientRequests, readRun, replayHandler, sendRecorded } from './helpers/claude-fixtures.js';

// Tool uses are linked to the MCP calls they caused when the rows are written (tool_links), not joined
// again on every read: at capture, when a session arrives late (imported after the conversation), in a
// database written before the table (made on the writing open that migrates it; read as before when
// opened read-only), and undone when the session is pruned. Real Claude Code traffic through real proxies.

const tmp = tempDb();
const servers: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  tmp.cleanup();
});
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

/** echo-http's model half through one proxy into `modelDb`, its MCP half through another into `mcpDb`. */
async function capture(modelDb: string, mcpDb: string, strip = false): Promise<void> {
  const noId = (t: string) => (strip ? t.replace(/"claudecode\/toolUseId":"[^"]*",?/, '') : t);
  const mcp = readRun('echo-http', 'mcp').map((ex) => ({ ...ex, requestBody: noId(ex.requestBody) }));
  const l = await listen(http.createServer(replayHandler(readRun('echo-http', 'model'), mcp)));
  servers.push(l);
  const upstream = `http://127.0.0.1:${l.port}`;
  const modelProxy = await startProxy({ target: upstream, port: 0, db: modelDb, label: 'model', onWarning: () => {} });
  const mcpProxy = await startProxy({ target: upstream, port: 0, db: mcpDb, label: 'mcp', onWarning: () => {} });
  try {
    for (const { half, ex } of clientRequests('echo-http')) {
      await sendRecorded(half === 'model' ? modelProxy.url : mcpProxy.url, { ...ex, requestBody: noId(ex.requestBody) });
    }
  } finally {
    await modelProxy.close();
    await mcpProxy.close();
  }
}

const linkRows = (db: string) => {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare(`SELECT session_id, tool_use_id, turn_seq, mcp_session_id, mcp_seq, linked_by FROM tool_links ORDER BY session_id, tool_use_id`).all();
  } finally {
    d.close();
  }
};

function read(db: string) {
  const store = CaptureStore.open(db, { readonly: true });
  try {
    const reader = new TurnReader(store);
    const conv = store.listSessions().find((s) => s.transport === 'model-api')!;
    const mcp = store.listSessions().find((s) => s.transport === 'streamable-http');
    const uses = conv ? reader.conversation(conv).turns.flatMap((t) => t.toolUses) : [];
    return { conv, mcp, uses, caused: mcp ? [...reader.causedCalls(mcp)] : [] };
  } finally {
    store.close();
  }
}

describe('links made at capture', () => {
  const one = tempDb();
  afterAll(() => one.cleanup());

  it('two proxies writing one database: the link is stored as the rows are written', async () => {
    await capture(one.db, one.db);
    const { conv, mcp, uses, caused } = read(one.db);
    expect(linkRows(one.db)).toEqual([{ session_id: conv.id, tool_use_id: uses[0].id, turn_seq: 1, mcp_session_id: mcp!.id, mcp_seq: uses[0].mcpCall!.seq, linked_by: 'tool-use-id' }]);
    expect(uses[0]).toMatchObject({ linkedBy: 'tool-use-id', result: { isError: false, text: 'Echo: hello from fixture' } });
    expect(caused).toEqual([[uses[0].mcpCall!.seq, { conversation: conv.id, turn: 1, toolUse: uses[0].id }]]);
  });
});

describe('a late session: the MCP half imported after the conversation was captured', () => {
  for (const strip of [false, true]) {
    it(strip ? 'without a tool-use id: linked by name, arguments and time on import' : 'linked by the tool-use id on import; show marks the call', async () => {
      const modelDb = tempDb();
      const mcpDb = tempDb();
      try {
        await capture(modelDb.db, mcpDb.db, strip);
        expect(read(modelDb.db).uses[0].mcpCall).toBeNull();
        expect(linkRows(modelDb.db)).toEqual([]);
        const mcpId = read(mcpDb.db).mcp!.id;
        const file = path.join(mcpDb.dir, 'mcp.jsonl');
        expect(run('export', mcpId, '--db', mcpDb.db, '-o', file).status).toBe(0);
        const imported = run('import', file, '--db', modelDb.db);
        expect(imported.stderr).toBe('');
        const { conv, mcp, uses, caused } = read(modelDb.db);
        expect(uses[0]).toMatchObject({ linkedBy: strip ? 'name-args-time' : 'tool-use-id', mcpCall: { session: mcp!.id }, result: { isError: false, text: 'Echo: hello from fixture' } });
        expect(linkRows(modelDb.db)).toHaveLength(1);
        expect(caused).toEqual([[uses[0].mcpCall!.seq, { conversation: conv.id, turn: 1, toolUse: uses[0].id }]]);
        const show = run('show', conv.id, '--db', modelDb.db, '--json');
        expect(show.status).toBe(0);
        expect(JSON.stringify(JSON.parse(show.stdout))).toContain(mcp!.id);
      } finally {
        modelDb.cleanup();
        mcpDb.cleanup();
      }
    });
  }
});

describe('a database written before stored links (schema 9)', () => {
  const full = tempDb();
  const old = tempDb();
  beforeAll(async () => {
    await capture(full.db, full.db, true);
    // The same rows in a database at the schema before the link tables.
    const d = new Database(old.db);
    migrate(d, 0, SCHEMA_VERSION - 1);
    d.exec(`ATTACH '${full.db}' AS src`);
    for (const t of ['sessions', 'exchanges', 'messages', 'turns', 'tool_uses', 'tool_results', 'blobs', 'streams']) d.exec(`INSERT INTO main.${t} SELECT * FROM src.${t}`);
    d.exec(`DETACH src`);
    d.close();
  });
  afterAll(() => {
    full.cleanup();
    old.cleanup();
  });

  it('read-only, it is read as it always was: links made as it is read', () => {
    expect(read(old.db).uses).toEqual(read(full.db).uses);
    expect(read(old.db).caused).toEqual(read(full.db).caused);
    expect(read(old.db).uses[0].linkedBy).toBe('name-args-time');
  });

  it('a writing open migrates it and stores the links the capture would have stored', () => {
    openDatabase(old.db, { create: true }).close();
    const d = new Database(old.db, { readonly: true });
    expect(d.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    d.close();
    expect(linkRows(old.db)).toEqual(linkRows(full.db));
    expect(linkRows(old.db)).toHaveLength(1);
    expect(read(old.db).uses).toEqual(read(full.db).uses);
  });
});

describe('mcptap prune', () => {
  const db = tempDb();
  afterAll(() => db.cleanup());

  it('deleting the MCP session takes its links: the tool use reads unlinked, the conversation keeps its turns', async () => {
    await capture(db.db, db.db);
    const before = read(db.db);
    expect(before.uses[0].mcpCall).not.toBeNull();
    const store = CaptureStore.open(db.db);
    try {
      store.deleteSessions([before.mcp!.id]);
    } finally {
      store.close();
    }
    expect(linkRows(db.db)).toEqual([]);
    const after = read(db.db);
    expect(after.uses).toHaveLength(1);
    expect(after.uses[0]).toMatchObject({ mcpCall: null, linkedBy: null, result: null });
  });
});
