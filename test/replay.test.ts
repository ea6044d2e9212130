import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { header } from '../src/capture/headers.js';
import type { RpcMessage, Session } from '../src/capture/model.js';
import { recordingFromStore, type Recording } from '../src/replay/recording.js';
import { replaySession, type ReplayResult } from '../src/replay/replay.js';
import { connectClient, startPlainToolsServer, startSseServer, startStreamableServer, startWsServer, type Peer, type TransportKind } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// Sessions recorded from server-everything through the proxy with the SDK client, replayed against
// live servers: the replay is captured as a new session, which must say the same things.

/**
 * server-everything asks for the client's roots 350 ms after `initialized` and logs the answer; waiting
 * for that log keeps the message order the same in every run.
 */
function rootsSynced(client: Client): Promise<void> {
  return new Promise((resolve) => client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    if (String(n.params.data).includes('Roots updated')) resolve();
  }));
}

async function scenario(client: Client, waitForRoots = true): Promise<void> {
  if (waitForRoots) await rootsSynced(client);
  await client.listTools();
  await client.callTool({ name: 'echo', arguments: { message: 'replayed' } });
  await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 } }, undefined, { onprogress: () => {} });
  await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 5 } });
  await client.getPrompt({ name: 'simple-prompt' });
  await client.readResource({ uri: 'demo://resource/static/document/architecture.md' });
}

const tmp = tempDb();
const peers: Peer[] = [];
const start = { 'streamable-http': startStreamableServer, sse: startSseServer, websocket: startWsServer };
const paths = { 'streamable-http': '/mcp', sse: '/sse', websocket: '/' };

async function record(kind: TransportKind, label: string, headers?: Record<string, string>): Promise<{ peer: Peer; recording: Recording }> {
  const peer = await start[kind]();
  peers.push(peer);
  const proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, label, onWarning: () => {} });
  const base = kind === 'websocket' ? proxy.url.replace('http', 'ws') : proxy.url;
  const c = await connectClient(kind, base + paths[kind], { headers });
  // server-everything keeps roots per session id, and a WebSocket session has none: only the first
  // WebSocket session of a process is asked for roots, so WebSocket recordings skip the wait.
  await scenario(c.client, kind !== 'websocket');
  await c.close();
  await proxy.flush();
  await proxy.close();
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return { peer, recording: recordingFromStore(store, store.listSessions().find((s) => s.label === label && s.transport === kind)!.id) };
  } finally {
    store.close();
  }
}

function read(sessionId: string): { session: Session; messages: RpcMessage[] } {
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return { session: store.getSession(sessionId)!, messages: store.messages(sessionId) };
  } finally {
    store.close();
  }
}

/** What a message is, without what differs between runs (ids of sessions, timing). */
const shape = (m: RpcMessage) => `${m.direction} ${m.kind} ${m.method ?? ''} ${m.subject ?? ''}`;

afterAll(async () => {
  for (const p of peers) await p.close();
  tmp.cleanup();
});

describe.each(['streamable-http', 'sse'] as const)('replaying a %s session against the same server', (kind) => {
  let recording: Recording;
  let result: ReplayResult;
  let replayed: { session: Session; messages: RpcMessage[] };
  const warnings: string[] = [];

  beforeAll(async () => {
    const r = await record(kind, `orig-${kind}`);
    recording = r.recording;
    result = await replaySession({ recording, target: r.peer.url, db: tmp.db, onWarning: (m) => warnings.push(m) });
    replayed = read(result.session!.id);
  });

  it('captures the run as a new session labelled after the original', () => {
    expect(result.session).not.toBeNull();
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
    const recordedBodies = recording.messages.filter((m) => m.direction === 'client->server' && m.kind !== 'response').map((m) => m.payload);
    expect(replayed.messages.filter((m) => m.direction === 'client->server' && m.kind !== 'response').map((m) => m.payload)).toEqual(recordedBodies);
  });

  it('runs as a new MCP session: a fresh session id, used from the initialize answer on', () => {
    expect(replayed.session.mcpSessionId).toBeTruthy();
    expect(replayed.session.mcpSessionId).not.toBe(recording.session.mcpSessionId);
    if (kind !== 'streamable-http') return;
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const exchanges = store.exchanges(replayed.session.id);
      expect(header(exchanges[0].requestHeaders, 'mcp-session-id')).toBeNull();
      for (const e of exchanges.slice(1)) expect(header(e.requestHeaders, 'mcp-session-id')).toBe(replayed.session.mcpSessionId);
    } finally {
      store.close();
    }
  });
});

describe('replay options', () => {
  let recording: Recording;
  let peer: Peer;

  beforeAll(async () => {
    ({ recording, peer } = await record('streamable-http', 'orig-options', { authorization: 'Bearer sk-live-0123456789abcdef' }));
  });

  it('appends the recorded paths to a --target path prefix', async () => {
    const prefixed = await startStreamableServer({ path: '/gateway/mcp' });
    peers.push(prefixed);
    const r = await replaySession({ recording, target: prefixed.url + '/gateway', db: tmp.db, onWarning: () => {} });
    expect(r.missing).toEqual([]);
    const { messages } = read(r.session!.id);
    expect(messages.map(shape)).toEqual(recording.messages.map(shape));
  });

  it('does not send a redacted credential, and sends one given with headers', async () => {
    const warnings: string[] = [];
    const a = await replaySession({ recording, target: peer.url, db: tmp.db, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringMatching(/recorded authorization header was redacted.*--header/)]);
    const b = await replaySession({ recording, target: peer.url, db: tmp.db, headers: [['Authorization', 'Bearer sk-other-9876543210fedcba']], onWarning: () => {} });
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      expect(store.exchanges(a.session!.id).every((e) => header(e.requestHeaders, 'authorization') == null)).toBe(true);
      expect(store.exchanges(b.session!.id).every((e) => header(e.requestHeaders, 'authorization') === 'Bearer sk-…dcba')).toBe(true);
    } finally {
      store.close();
    }
  });

  it('replays over another transport with --transport', async () => {
    const ws = await startWsServer();
    peers.push(ws);
    const r = await replaySession({ recording, target: ws.url, transport: 'ws', db: tmp.db, onWarning: () => {} });
    expect(r.missing).toEqual([]);
    const { session, messages } = read(r.session!.id);
    expect(session.transport).toBe('websocket');
    // The WebSocket server announces its tools after `initialized`, which the HTTP one could not deliver.
    const extra = (m: RpcMessage) => m.method === 'notifications/tools/list_changed';
    expect(messages.filter((m) => !extra(m)).map(shape)).toEqual(recording.messages.map(shape));
  });

  it('keeps the recorded pacing with timing: original', async () => {
    const steps = recording.messages.filter((m) => m.direction === 'client->server' && m.kind !== 'response');
    const span = steps[steps.length - 1].ts - steps[0].ts;
    const t0 = performance.now();
    const r = await replaySession({ recording, target: peer.url, db: tmp.db, timing: 'original', onWarning: () => {} });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(span * 0.9);
    expect(r.missing).toEqual([]);
    expect(read(r.session!.id).messages.map(shape)).toEqual(recording.messages.map(shape));
  });

  it('reports what the live server never sent, after the timeout', async () => {
    // A server without server-everything's tools and without roots: progress, sampling and the roots
    // request never come, and the replay does not hang waiting for them.
    const plain = await startPlainToolsServer();
    peers.push(plain);
    const r = await replaySession({ recording, target: plain.url, db: tmp.db, timeoutMs: 200, onWarning: () => {} });
    expect(r.missing).toEqual(expect.arrayContaining([
      '1 × roots/list from the server',
      '2 × notifications/progress from the server',
      '1 × sampling/createMessage from the server',
    ]));
    expect(r.answered).toBe(0);
    const { messages } = read(r.session!.id);
    const longRun = messages.find((m) => m.kind !== 'request' && m.subject === 'trigger-long-running-operation')!;
    expect(longRun.isError).toBe(true);
  });
});
