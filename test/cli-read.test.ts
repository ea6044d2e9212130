import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { NODE_FLAGS } from '../src/proxy/heap.js';
import { startProxy } from '../src/proxy/server.js';
import { connectClient, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// `mcptap sessions` and `mcptap show` on a database captured for real, through a --target with a
// path prefix (the proxy's /mcp is the upstream's /prefix/mcp).

const tmp = tempDb();
let peer: Peer;
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, MCPTAP_DB: tmp.db } });

beforeAll(async () => {
  peer = await startStreamableServer({ path: '/gateway/mcp' });
  const proxy = await startProxy({ target: peer.url + '/gateway', port: 0, db: tmp.db, label: 'prefixed', onWarning: () => {} });
  const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'reader' });
  await c.client.callTool({ name: 'echo', arguments: { message: 'hello' } });
  await c.client.callTool({ name: 'no-such-tool', arguments: {} }).catch(() => undefined);
  await c.close();
  await proxy.close();
});

afterAll(async () => {
  await peer.close();
  tmp.cleanup();
});

describe('the mcptap command', () => {
  it('starts node with the heap flags the proxy is tuned and benchmarked with', () => {
    const first = fs.readFileSync(cli, 'utf8').split('\n')[0];
    expect(first).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
    // The way the shebang runs it: env splits the line and this node takes the flags.
    const r = spawnSync('/usr/bin/env', ['-S', `${process.execPath} ${NODE_FLAGS.join(' ')}`, cli, '--version'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('mcptap sessions', () => {
  it('--json lists each session with the documented fields', () => {
    const r = run('sessions', '--json');
    expect(r.status).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0]).sort()).toEqual(['clientName', 'endedAt', 'errorCount', 'gateway', 'grouping', 'id', 'label', 'lengthMs', 'live', 'mcpSessionId', 'messageCount', 'protocolVersion', 'serverName', 'startedAt', 'target', 'transport', 'via'].sort());
    // Straight to the server: no gateway.
    expect(rows[0]).toMatchObject({ label: 'prefixed', transport: 'streamable-http', target: peer.url + '/gateway', clientName: 'reader', serverName: 'mcp-servers/everything', via: null, gateway: null });
    expect(rows[0].messageCount).toBeGreaterThanOrEqual(7);
    expect(rows[0].endedAt).not.toBeNull();
  });

  it('prints a table for people', () => {
    const r = run('sessions');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ID\s+LABEL\s+TRANSPORT/);
    expect(r.stdout).toContain('reader → mcp-servers/everything');
  });
});

describe('mcptap show', () => {
  it('--json gives the session and its messages in order, by unique id prefix', () => {
    const id = JSON.parse(run('sessions', '--json').stdout)[0].id as string;
    const r = run('show', id.slice(0, 4), '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.session.id).toBe(id);
    const msgs = out.messages as Array<{ seq: number; direction: string; kind: string; method: string; id: unknown; channel: string; latencyMs: number | null; payload: any }>;
    expect(msgs.map((m) => m.seq)).toEqual(msgs.map((_, i) => i + 1));
    expect(msgs[0]).toMatchObject({ direction: 'client->server', kind: 'request', method: 'initialize', channel: 'request-body' });
    expect(msgs[0].payload.params.clientInfo.name).toBe('reader');
    const call = msgs.find((m) => m.method === 'tools/call' && m.direction === 'server->client')!;
    expect(call.payload.result.content[0].text).toBe('Echo: hello');
    expect(call.latencyMs).toBeGreaterThan(0);
    // Calling a tool that does not exist is answered, and the answer is marked as a failure.
    const failed = msgs.filter((m) => m.method === 'tools/call' && m.direction === 'server->client')[1];
    expect(JSON.stringify(failed.payload)).toMatch(/no-such-tool|not found/i);
  });

  it('prints one line per message for people, with --exchanges showing the prefixed upstream path', () => {
    const id = JSON.parse(run('sessions', '--json').stdout)[0].id as string;
    const r = run('show', id, '--exchanges');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('→ request      initialize');
    expect(r.stdout).toContain('echo({"message":"hello"})');
    expect(r.stdout).toContain('POST   /mcp');
  });

  it('rejects an ambiguous or unknown prefix with one line and exit 2', () => {
    const r = run('show', 'ffffffffffff');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^mcptap: no session matches 'ffffffffffff'/);
  });
});
