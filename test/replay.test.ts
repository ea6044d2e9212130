import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { execFile } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { writeRecording } from '../src/store/jsonl.js';
import { header } from '../src/model/headers.js';
import type { RpcMessage, Session } from '../src/model/model.js';
import { diffSessions } from '../src/analysis/diff.js';
import { loadDiffInput } from '../src/analysis/input.js';
import type { Recording } from '../src/replay/recording.js';
import { replaySession, type ReplayResult } from '../src/replay/replay.js';
import { connectClient, startGatewayLikeServer, startPlainToolsServer, startSseServer, startStreamableServer, startWsServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// Sessions recorded from server-everything through the proxy with the SDK client, replayed against
// live servers: the replay is captured as a new session, which must say the same things. Each
// recording and replay has its own database so that independent tests can run at the same time.

/**
 * server-everything asks for the client's roots 350 ms after `initialized` and logs the answer; waiting
 * for that log keeps the message order the same in every run.
 */
function rootsSynced(client: Client): Promise<void> {
  return new Promise((resolve) => client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    if (String(n.params.data).includes('Roots updated')) resolve();
  }));
}

async function scenario(client: Client): Promise<void> {
  await rootsSynced(client);
  await client.listTools();
  await client.callTool({ name: 'echo', arguments: { message: 'replayed' } });
  await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 } }, undefined, { onprogress: () => {} });
  await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 5 } });
  await client.getPrompt({ name: 'simple-prompt' });
  await client.readResource({ uri: 'demo://resource/static/document/architecture.md' });
}

const tmp = tempDb();
const peers: Peer[] = [];
const dbFor = (name: string) => path.join(tmp.dir, `${name}.db`);

interface Recorded {
  peer: Peer;
  recording: Recording;
  db: string;
}

async function record(kind: 'streamable-http' | 'sse', label: string, headers?: Record<string, string>): Promise<Recorded> {
  const peer = kind === 'sse' ? await startSseServer() : await startStreamableServer();
  peers.push(peer);
  const db = dbFor(label);
  const proxy = await startProxy({ target: peer.url, port: 0, db, label, onWarning: () => {} });
  const c = await connectClient(kind, proxy.url + (kind === 'sse' ? '/sse' : '/mcp'), { headers });
  await scenario(c.client);
  await c.close();
  await proxy.flush();
  await proxy.close();
  return { peer, db, recording: byLabel(db, label) };
}

/** The MCP session captured under this label. */
function byLabel(db: string, label: string): Recording {
  const store = CaptureStore.open(db, { readonly: true });
  try {
    return loadDiffInput(store.listSessions().find((s) => s.label === label && s.transport !== 'http')!.id, store);
  } finally {
    store.close();
  }
}

function read(db: string, sessionId: string): { session: Session; messages: RpcMessage[]; input: Recording } {
  const store = CaptureStore.open(db, { readonly: true });
  try {
    const input = loadDiffInput(sessionId, store);
    return { session: input.session, messages: input.messages, input };
  } finally {
    store.close();
  }
}

/** What a message is, without what differs between runs (ids, session ids, timing). */
const shape = (m: RpcMessage) => `${m.direction} ${m.kind} ${m.method ?? ''} ${m.subject ?? ''}`;

let rec: Record<'http' | 'sse' | 'auth', Recorded>;

beforeAll(async () => {
  const [http, sse, auth] = await Promise.all([
    record('streamable-http', 'orig-http'),
    record('sse', 'orig-sse'),
    record('streamable-http', 'orig-auth', { authorization: 'Bearer sk-live-0123456789abcdef' }),
  ]);
  rec = { http, sse, auth };
});

afterAll(async () => {
  for (const p of peers) await p.close();
  tmp.cleanup();
});

describe.each([['streamable-http', 'http'], ['sse', 'sse']] as const)('replaying a %s session against the same server', (kind, which) => {
  let recording: Recording;
  let result: ReplayResult;
  let replayed: ReturnType<typeof read>;
  const warnings: string[] = [];

  beforeAll(async () => {
    recording = rec[which].recording;
    const db = dbFor(`replay-${which}`);
    result = await replaySession({ recording, target: rec[which].peer.url, db, onWarning: (m) => warnings.push(m) });
    replayed = read(db, result.session!.id);
  });

  it('captures the run as a new session labelled after the original', () => {
    expect(replayed.session.id).not.toBe(recording.session.id);
    expect(replayed.session.label).toBe(`replay of ${recording.session.id}`);
    expect(replayed.session.transport).toBe(kind);
    expect(warnings).toEqual([]);
    expect(result.missing).toEqual([]);
  });

  it('says the same things in the same order, answering server requests as the recorded client did', () => {
    expect(replayed.messages.map(shape)).toEqual(recording.messages.map(shape));
    // roots/list and sampling/createMessage came from the live server and were answered from the recording.
    expect(result.answered).toBe(2);
    const answer = replayed.messages.find((m) => m.direction === 'client->server' && m.kind === 'response' && m.method === 'sampling/createMessage')!;
    expect(answer.payload).toContain('test-model');
    const sent = (ms: RpcMessage[]) => ms.filter((m) => m.direction === 'client->server' && m.kind !== 'response').map((m) => m.payload);
    expect(sent(replayed.messages)).toEqual(sent(recording.messages));
  });

  it('shows no differences in the diff against the original', () => {
    const report = diffSessions(recording, replayed.input);
    expect(report.verdict).toMatch(/^equivalent/);
    expect(report.equivalent).toBe(true);
    expect(report.counts.same).toBeGreaterThan(10);
  });

  it('runs as a new MCP session: a fresh session id, used from the initialize answer on', () => {
    expect(replayed.session.mcpSessionId).toBeTruthy();
    expect(replayed.session.mcpSessionId).not.toBe(recording.session.mcpSessionId);
    if (kind !== 'streamable-http') return;
    const exchanges = replayed.input.exchanges;
    expect(header(exchanges[0].requestHeaders, 'mcp-session-id')).toBeNull();
    for (const e of exchanges.slice(1)) expect(header(e.requestHeaders, 'mcp-session-id')).toBe(replayed.session.mcpSessionId);
  });
});

describe.concurrent('replay options', () => {
  it('appends the recorded paths to a --target path prefix', async () => {
    const prefixed = await startStreamableServer({ path: '/gateway/mcp' });
    peers.push(prefixed);
    const db = dbFor('prefix');
    const r = await replaySession({ recording: rec.http.recording, target: prefixed.url + '/gateway', db });
    expect(r.missing).toEqual([]);
    expect(read(db, r.session!.id).messages.map(shape)).toEqual(rec.http.recording.messages.map(shape));
  });

  it('does not send a redacted credential, and sends one given with headers', async () => {
    const warnings: string[] = [];
    const [a, b] = await Promise.all([
      replaySession({ recording: rec.auth.recording, target: rec.auth.peer.url, db: dbFor('auth-a'), onWarning: (m) => warnings.push(m) }),
      replaySession({ recording: rec.auth.recording, target: rec.auth.peer.url, db: dbFor('auth-b'), headers: [['Authorization', 'Bearer sk-other-9876543210fedcba']] }),
    ]);
    expect(warnings).toEqual([expect.stringMatching(/recorded authorization header was redacted.*--header/)]);
    expect(read(dbFor('auth-a'), a.session!.id).input.exchanges.every((e) => header(e.requestHeaders, 'authorization') == null)).toBe(true);
    expect(read(dbFor('auth-b'), b.session!.id).input.exchanges.every((e) => /^Bearer \[redacted:[0-9a-f]{8}…dcba\]$/.test(header(e.requestHeaders, 'authorization') ?? ''))).toBe(true);
  });

  it('replays over another transport with --transport', async () => {
    const ws = await startWsServer();
    peers.push(ws);
    const db = dbFor('ws');
    const r = await replaySession({ recording: rec.http.recording, target: ws.url, transport: 'ws', db });
    expect(r.missing).toEqual([]);
    const { session, messages } = read(db, r.session!.id);
    expect(session.transport).toBe('websocket');
    // The server's tools/list_changed after `initialized` comes on its own, where each transport puts it
    // (over Streamable HTTP once the GET stream opens): the messages are compared without it.
    const extra = (m: RpcMessage) => m.method === 'notifications/tools/list_changed';
    expect(messages.filter((m) => !extra(m)).map(shape)).toEqual(rec.http.recording.messages.filter((m) => !extra(m)).map(shape));
  });

  it('keeps the recorded pacing with timing: original', async () => {
    const recording = rec.http.recording;
    const steps = recording.messages.filter((m) => m.direction === 'client->server' && m.kind !== 'response');
    const span = steps[steps.length - 1].ts - steps[0].ts;
    const db = dbFor('timing');
    const t0 = performance.now();
    const r = await replaySession({ recording, target: rec.http.peer.url, db, timing: 'original' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(span * 0.9);
    expect(r.missing).toEqual([]);
    // Recorded pacing does not wait for the server: what it sends on its own (roots/list, 350 ms in)
    // may land before or after a request sent on time, so only the messages are compared, not the order.
    expect(read(db, r.session!.id).messages.map(shape).sort()).toEqual(recording.messages.map(shape).sort());
  });

  it('replayed against a server that lists the tools prefixed, each call goes out under the listed name and the diff names the rename', async () => {
    const direct = await startPlainToolsServer();
    const gateway = await startGatewayLikeServer({ prefix: 'db_main-' });
    peers.push(direct, gateway);
    const db = dbFor('gateway');
    const proxy = await startProxy({ target: direct.url, port: 0, db, label: 'direct', onWarning: () => {} });
    const c = await connectClient('streamable-http', proxy.url + '/mcp');
    await c.client.listTools();
    await c.client.callTool({ name: 'list_schemas', arguments: {} });
    await c.close();
    await proxy.flush();
    await proxy.close();
    const original = byLabel(db, 'direct');
    const r = await replaySession({ recording: original, target: gateway.url, db, timeoutMs: 500 });
    const report = diffSessions(original, read(db, r.session!.id).input);
    expect(r.renamed).toEqual([{ from: 'list_schemas', to: 'db_main-list_schemas' }]);
    // Not a known gateway (its initialize does not say LiteLLM): the rename and its server info are differences.
    expect(report.gateway).toBeNull();
    expect(report.equivalent).toBe(false);
    expect(report.tools.pattern).toMatch(/db_main-/);
    expect(report.outcomes).toEqual([]);
    const call = read(db, r.session!.id).input.messages.find((m) => m.method === 'tools/call' && m.kind === 'request')!;
    expect(JSON.parse(call.payload).params.name).toBe('db_main-list_schemas');
  });

  it('reports what the live server never sent, after the timeout', async () => {
    // A server without server-everything's tools and without roots: progress, sampling and the roots
    // request never come, and the replay does not hang waiting for them.
    const plain = await startPlainToolsServer();
    peers.push(plain);
    const db = dbFor('plain');
    const r = await replaySession({ recording: rec.http.recording, target: plain.url, db, timeoutMs: 200 });
    expect(r.missing).toEqual(expect.arrayContaining([
      '1 × roots/list from the server',
      '2 × notifications/progress from the server',
      '1 × sampling/createMessage from the server',
    ]));
    expect(r.answered).toBe(0);
    const longRun = read(db, r.session!.id).messages.find((m) => m.kind !== 'request' && m.subject === 'trigger-long-running-operation')!;
    expect(longRun.isError).toBe(true);
  });
});

describe.concurrent('mcptap replay', () => {
  const cli = path.resolve('dist/src/cli/main.js');
  const run = (...args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    // Asynchronous: the servers the replay talks to live in this process.
    execFile(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }));
  });

  it('exits 0 and reports no differences against the same server', async () => {
    const { recording, peer, db } = rec.http;
    const r = await run('replay', recording.session.id.slice(0, 8), '--target', peer.url, '--db', db, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ original: recording.session.id, answered: 2, missing: [], diff: { equivalent: true } });
    expect(read(db, out.replay).session.label).toBe(`replay of ${recording.session.id}`);
  });

  it('replays a .jsonl recording, and exits 1 with the diff when the server differs', async () => {
    const file = path.join(tmp.dir, 'reference.jsonl');
    const store = CaptureStore.open(rec.sse.db, { readonly: true });
    try {
      writeRecording(store, rec.sse.recording.session.id, file);
    } finally {
      store.close();
    }
    const plain = await startPlainToolsServer();
    peers.push(plain);
    const r = await run('replay', file, '--target', plain.url, '--transport', 'http', '--db', dbFor('cli-plain'), '--timeout', '0.2');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^replayed [0-9a-f]{12} to http:\/\/127\.0\.0\.1:\d+ as session [0-9a-f]{12}/);
    expect(r.stdout).toContain('never came: 1 × roots/list from the server');
    expect(r.stdout).toMatch(/\ndifferent: /);
    expect(r.stdout).toMatch(/transport: "sse" → "streamable-http"/);
    expect(r.stdout).toMatch(/tools\/call trigger-long-running-operation .*: result → /);
  });

  it('exits 2 with one line on bad input', async () => {
    const { recording, peer, db } = rec.http;
    const results = await Promise.all([
      ['replay', 'ffffffffffff', '--target', peer.url, '--db', db],
      ['replay', recording.session.id, '--target', 'not a url', '--db', db],
      ['replay', recording.session.id, '--target', peer.url, '--transport', 'carrier-pigeon', '--db', db],
      ['replay', path.join(tmp.dir, 'missing.jsonl'), '--target', peer.url, '--db', db],
      ['replay', recording.session.id, '--target', 'http://127.0.0.1:1', '--db', db],
      ['replay', recording.session.id, '--target', 'http://127.0.0.1:1', '--transport', 'ws', '--db', db],
    ].map(async (args) => ({ args, r: await run(...args) })));
    for (const { args, r } of results) {
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/^mcptap: /);
      if (args.includes('http://127.0.0.1:1')) expect(r.stderr).toMatch(/^mcptap: cannot reach http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
    }
  });
});
