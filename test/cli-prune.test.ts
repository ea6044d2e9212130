import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { connectClient, startStreamableServer, type Peer } from './helpers/peers.js';
import { captureSession } from './helpers/capture.js';
import { tempDb } from './helpers/tmp.js';

// `mcptap prune` on captures made for real, beside a reference recording a week old.

const tmp = tempDb();
let peer: Peer;
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--db', tmp.db], { encoding: 'utf8', timeout: 60_000 });
const ids = () => {
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return store.listSessions().map((s) => s.label);
  } finally {
    store.close();
  }
};

beforeAll(async () => {
  peer = await startStreamableServer();
  // Big payloads, so that giving the space back shows in the file size.
  await captureSession(tmp.db, peer, 'big', async (c) => {
    for (let i = 0; i < 20; i++) await c.callTool({ name: 'echo', arguments: { message: 'x'.repeat(100_000) + i } });
  });
  await captureSession(tmp.db, peer, 'small', async (c) => void (await c.listTools()));
  expect(run('import', path.resolve('recordings/everything-sse.jsonl'), '--label', 'reference').status).toBe(0);
});

afterAll(async () => {
  await peer.close();
  tmp.cleanup();
});

describe('mcptap prune', () => {
  it('wants to be told what to delete, and says so in one line', () => {
    const r = run('prune');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('mcptap: say which sessions to delete: ids, --older-than AGE, --label TEXT or --all (see mcptap prune --help)\n');
    const unknown = run('prune', 'ffff0000');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^mcptap: no session matches 'ffff0000' in .*\n$/);
    const bad = run('prune', '--older-than', '7x');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^mcptap: --older-than takes an age like 30m, 12h, 7d or 2w \(got '7x'\)\n$/);
  });

  it('deletes by age of last traffic (a dry run first), and by label, giving the space back', () => {
    const dry = run('prune', '--older-than', '1d', '--dry-run', '--json');
    expect(dry.status).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan).toMatchObject({ dryRun: true, sessions: 1, skippedLive: [] });
    expect(ids()).toEqual(['reference', 'big', 'small']);

    const old = run('prune', '--older-than', '1d');
    expect(old.status).toBe(0);
    expect(old.stdout).toMatch(new RegExp(`^deleted ${plan.deleted[0]}  reference`, 'm'));
    expect(ids()).toEqual(['big', 'small']);

    const big = JSON.parse(run('prune', '--label', 'big', '--json').stdout);
    expect(big).toMatchObject({ dryRun: false, sessions: 1, exchanges: expect.any(Number) });
    expect(big.messages).toBeGreaterThanOrEqual(40);
    // 20 payloads of 100 KB each way went; the file gave the space back.
    expect(big.bytesBefore - big.bytesAfter).toBeGreaterThan(2_000_000);
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      expect(store.listSessions().map((s) => s.label)).toEqual(['small']);
      expect(store.messages(big.deleted[0])).toEqual([]);
      expect(store.exchanges(big.deleted[0])).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('leaves a session a running proxy is still writing, which goes on recording it, and still gives the space back', async () => {
    const proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, label: 'live', onWarning: () => {} });
    const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'still-here' });
    try {
      await c.client.listTools();
      await proxy.flush();
      const r = run('prune', '--all');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^kept \w+: no end and traffic in the last minute/m);
      expect(r.stdout).toMatch(/^deleted 1 session /m);
      // The proxy's database thread has the file open, idle between batches: the file still shrinks.
      expect(r.stdout).toMatch(/went from \d+ KB to \d+ KB/);
      // The live session keeps being recorded.
      await c.client.callTool({ name: 'echo', arguments: { message: 'after prune' } });
      await proxy.flush();
    } finally {
      await c.close();
      await proxy.close();
    }
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const [live] = store.listSessions();
      expect(live.label).toBe('live');
      expect(store.messages(live.id).map((m) => m.method)).toContain('tools/call');
    } finally {
      store.close();
    }
  });
});
