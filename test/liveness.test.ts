import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { connectClient, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// "live" and a session's length: a short client session is not live for the proxy's whole run, and
// its length is first to last message, not the proxy's lifetime; an imported one is never live.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const sessions = (db: string) => JSON.parse(spawnSync(process.execPath, [cli, 'sessions', '--json', '--db', db], { encoding: 'utf8' }).stdout);
const show = (db: string, id: string) => JSON.parse(spawnSync(process.execPath, [cli, 'show', id, '--json', '--db', db], { encoding: 'utf8' }).stdout);
let peer: Peer;
let proxy: RunningProxy | null = null;

beforeAll(async () => {
  peer = await startStreamableServer();
});

afterAll(async () => {
  await proxy?.close();
  await peer.close();
  tmp.cleanup();
});

describe('live and length', () => {
  it('a session is live while its proxy has its traffic, and its length is first to last message once the proxy stops', async () => {
    proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, label: 'short', onWarning: () => {} });
    const a = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'short' });
    await a.client.callTool({ name: 'echo', arguments: { message: 'one' } });
    await a.close();
    await proxy.flush();
    expect(sessions(tmp.db).find((s: any) => s.clientName === 'short').live).toBe(true);
    // The proxy runs on: another client comes and goes before it stops.
    const b = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'later' });
    for (let i = 0; i < 5; i++) await b.client.callTool({ name: 'echo', arguments: { message: `later ${i}` } });
    await b.close();
    await proxy.close();
    proxy = null;
    const short = sessions(tmp.db).find((s: any) => s.clientName === 'short');
    expect(short.endedAt).not.toBeNull();
    expect(short.live).toBe(false);
    const ms = show(tmp.db, short.id).messages.map((m: any) => Date.parse(m.ts));
    const proxyLifetime = Date.parse(short.endedAt) - Date.parse(short.startedAt);
    expect(short.lengthMs).toBeLessThanOrEqual(Math.max(...ms) - Math.min(...ms) + 1);
    expect(short.lengthMs).toBeLessThan(proxyLifetime);
    const table = spawnSync(process.execPath, [cli, 'sessions', '--db', tmp.db], { encoding: 'utf8' }).stdout;
    expect(table).not.toMatch(/live/);
  });

  it('an imported session without an end is not live', () => {
    const file = path.join(tmp.dir, 'open.jsonl');
    const lines = fs.readFileSync('recordings/everything-streamable-http.jsonl', 'utf8').split('\n');
    const head = JSON.parse(lines[0]);
    head.session.endedAt = null;
    head.session.endReason = null;
    fs.writeFileSync(file, [JSON.stringify(head), ...lines.slice(1)].join('\n'));
    const db = path.join(tmp.dir, 'imported.db');
    expect(spawnSync(process.execPath, [cli, 'import', file, '--db', db], { encoding: 'utf8' }).status).toBe(0);
    const [s] = sessions(db);
    expect(s.endedAt).toBeNull();
    expect(s.live).toBe(false);
    expect(s.lengthMs).toBeGreaterThan(0);
    expect(s.lengthMs).toBeLessThan(60_000);
  });
});
