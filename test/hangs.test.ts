import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runChecks, type Finding } from '../src/analysis/checks/engine.js';
import { STREAM_RULES } from '../src/analysis/checks/stream-rules.js';
import { attachLiveChecks, type LiveClock } from '../src/analysis/checks/live.js';
import { useClock } from '../src/model/clock.js';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import http from 'node:http';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { connectClient, type ClientOptions, type TransportKind } from './helpers/peers.js';
import { poolFetch } from './helpers/pool-fetch.js';
import { startHangServer, type HangOptions, type HangServer } from './helpers/hang-server.js';
import { tempDb, until } from './helpers/tmp.js';

// Why did my tool call hang? Real SDK clients and servers through the proxy, over the three transports;
// each scenario must give its own finding and no other of the stream rules. Every wait is on an event
// (the tool starting, the client's timeout firing, the proxy having recorded something), never on time.

const STREAM_IDS = new Set(STREAM_RULES.map((r) => r.id));
const tmp = tempDb();
const open: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c().catch(() => {});
});
afterAll(() => tmp.cleanup());

interface Run {
  server: HangServer;
  proxy: RunningProxy;
  client: Awaited<ReturnType<typeof connectClient>>['client'];
  label: string;
}

let n = 0;
async function scenario(kind: TransportKind, opts: HangOptions = {}, fetch?: ClientOptions['fetch']): Promise<Run> {
  const server = await startHangServer(kind, opts);
  open.push(() => server.close());
  const label = `${kind}-${++n}`;
  const proxy = await startProxy({ target: server.url, port: 0, db: tmp.db, label, onWarning: () => {} });
  open.push(() => proxy.close());
  const path = new URL(server.endpoint).pathname;
  const url = kind === 'websocket' ? proxy.url.replace('http', 'ws') + path : proxy.url + path;
  const c = await connectClient(kind, url, { fetch });
  open.push(() => c.close());
  return { server, proxy, client: c.client, label };
}

/** What the checks say about the run's session, read back from the database as `mcptap check` does. */
async function findings(run: Run, slowMs = 600_000): Promise<Finding[]> {
  await run.proxy.flush();
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    const session = store.listSessions().find((s) => s.label === run.label && s.transport !== 'http')!;
    return runChecks({ session, messages: store.messages(session.id), exchanges: store.exchanges(session.id) }, { slowMs });
  } finally {
    store.close();
  }
}

const ours = (fs: Finding[]) => fs.filter((f) => STREAM_IDS.has(f.ruleId));
/** Nothing else went wrong: every error or warning is one of ours. */
const othersQuiet = (fs: Finding[]) => fs.filter((f) => !STREAM_IDS.has(f.ruleId) && f.severity !== 'info');

async function recorded(run: Run, pred: (s: CaptureStore, sessionId: string) => boolean, what: string): Promise<void> {
  await until(async () => {
    await run.proxy.flush();
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const s = store.listSessions().find((x) => x.label === run.label && x.transport !== 'http');
      return !!s && pred(store, s.id);
    } finally {
      store.close();
    }
  }, what);
}

const hasCancel = (s: CaptureStore, id: string) => s.messages(id).some((m) => m.method === 'notifications/cancelled');

describe.each(['streamable-http', 'sse', 'websocket'] as const)('%s', (kind) => {
  it('a tool slower than the client\'s timeout: one timeout finding naming the limit, with progress flowing', async () => {
    const run = await scenario(kind);
    // The limit restarts on progress, so the client always gives up after the tool's one progress notification.
    // The limit is the scenario, not a wait: it leaves the progress time to arrive on a loaded machine (at 400 ms,
    // load 16 on 2 cores had the client give up before it, and the finding rightly said no progress flowed).
    const calls = [0, 1].map(() => run.client.callTool({ name: 'slow', arguments: {} }, undefined, { timeout: 1500, onprogress: () => {}, resetTimeoutOnProgress: true }).then(() => 'answered', (e: Error) => e.message));
    await run.server.called();
    await run.server.called();
    const outcomes = await Promise.all(calls);
    expect(outcomes.every((o) => /timed out/i.test(o))).toBe(true);
    await recorded(run, (s, id) => s.messages(id).filter((m) => m.method === 'notifications/cancelled').length === 2, 'both cancellations');
    const all = await findings(run);
    const f = ours(all);
    expect(f.map((x) => x.ruleId)).toEqual(['request-timeout']);
    expect(f[0].title).toMatch(/^2 requests abandoned at about \d+\.\d s with no answer: the client's limit is about \d+\.\d s$/);
    expect(f[0].explanation).toContain('Progress notifications were flowing');
    expect(f[0].fix).toContain('resetTimeoutOnProgress');
    expect(f[0].evidence.messageSeqs.length).toBe(4);
    expect(othersQuiet(all)).toEqual([]);
  });

  it('an answer after the client gave up: one late-answer finding', async () => {
    const run = await scenario(kind, { ignoreCancel: true });
    const call = run.client.callTool({ name: 'slow', arguments: {} }, undefined, { timeout: 300 }).then(() => 'answered', (e: Error) => e.message);
    const slow = await run.server.called();
    expect(await call).toMatch(/timed out/i);
    await recorded(run, hasCancel, 'the cancellation');
    slow.release();
    await recorded(run, (s, id) => s.messages(id).some((m) => m.kind === 'response' && m.method === 'tools/call'), 'the late answer');
    const all = await findings(run);
    const f = ours(all);
    expect(f.map((x) => x.ruleId)).toEqual(['late-answer']);
    expect(f[0].title).toMatch(/^tools\/call slow answered after .* s, .* s after the client gave up at .* s$/);
    expect(f[0].explanation).toContain('threw the answer away');
    expect(othersQuiet(all)).toEqual([]);
  });

  it('the upstream drops the stream mid-call, no resumption: one stream-dropped finding, live and in check alike', async () => {
    const run = await scenario(kind);
    const lines: string[] = [];
    const live = attachLiveChecks(run.proxy.engine.hub, (l) => lines.push(l), { clock: immediateClock(() => Date.now()) });
    open.push(async () => live.stop());
    // Progress first: the answer's stream is open (its head and an event are out) when it drops.
    const call = run.client.callTool({ name: 'slow', arguments: {} }, undefined, { timeout: 30_000, onprogress: () => {} }).then(() => 'answered', (e: Error) => e.message);
    const slow = await run.server.called();
    await recorded(run, (s, id) => s.messages(id).some((m) => m.method === 'notifications/progress'), 'the progress');
    slow.drop();
    await recorded(run, (s, id) => s.exchanges(id).some((e) => (e.kind === 'websocket' || e.method !== 'DELETE') && e.endedAt != null && (e.failure != null || e.closedBy === 'server') && s.messages(id).some((m) => m.exchangeId === e.id && m.method === 'tools/call')), 'the drop');
    await run.client.close().catch(() => {});
    await call;
    const all = await findings(run);
    const f = ours(all);
    expect(f.map((x) => x.ruleId)).toEqual(['stream-dropped']);
    expect(f[0].severity).toBe('error');
    expect(f[0].title).toMatch(/with 1 request in flight \(tools\/call slow\)/);
    expect(f[0].title).toMatch(/the client did not resume$/);
    // Live checks read the same stream facts (who ended the stream), so they tell the same story.
    await until(() => lines.some((l) => l.includes('[stream-dropped]')), 'the live finding');
    expect(lines.find((l) => l.includes('[stream-dropped]'))).toContain(f[0].title);
  });
});

describe('streamable-http only', () => {
  it('the upstream drops the stream mid-call and the client resumes: the replay is found', async () => {
    const run = await scenario('streamable-http', { resumable: true });
    const call = run.client.callTool({ name: 'slow', arguments: {} }, undefined, { timeout: 30_000 });
    const slow = await run.server.called();
    slow.drop();
    await recorded(run, (s, id) => s.exchanges(id).some((e) => e.method === 'GET' && e.requestHeaders.some(([k]) => k.toLowerCase() === 'last-event-id')), 'the resumption');
    slow.release();
    await call;
    const all = await findings(run);
    const f = ours(all);
    expect(f.map((x) => [x.ruleId, x.severity])).toEqual([['stream-dropped', 'info']]);
    expect(f[0].title).toMatch(/the client resumed from .* and the server replayed the answers$/);
    expect(othersQuiet(all)).toEqual([]);
  });
});

describe('a client with one connection and a long-lived GET stream', () => {
  it('the POST that queued behind the standalone GET stream is found', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    open.push(async () => agent.destroy());
    const run = await scenario('streamable-http', {}, poolFetch(agent));
    await recorded(run, (s, id) => s.exchanges(id).some((e) => e.method === 'GET' && e.status === 200), 'the standalone GET stream');
    const call = run.client.callTool({ name: 'echo', arguments: { message: 'hi' } }, undefined, { timeout: 30_000 });
    // The call waits in the client's pool: nothing reaches the proxy until the stream lets the connection go.
    await until(() => Object.values(agent.requests).some((q) => (q?.length ?? 0) > 0), 'the call queued in the pool');
    run.server.closeStandaloneStream();
    expect((await call).content).toEqual([{ type: 'text', text: 'hi' }]);
    const all = await findings(run);
    const f = ours(all);
    expect(f.map((x) => x.ruleId)).toEqual(['connection-held-by-stream']);
    expect(f[0].title).toMatch(/^1 POST waited for the connection the standalone GET stream held for .* s$/);
    expect(f[0].explanation).toContain('the client had opened no other connection meanwhile');
    expect(othersQuiet(all)).toEqual([]);
  });
});

/** Live-check timers that fire on the next turn of the event loop; `epoch` is the test's time. */
function immediateClock(epoch: () => number): LiveClock {
  let t = 0;
  return {
    now: () => ++t,
    epoch,
    after(_ms, fn) {
      let live = true;
      setImmediate(() => live && fn());
      return { cancel: () => void (live = false) };
    },
  };
}

describe('a tool suddenly slow against its own history', () => {
  it('is found live while the call runs, and after it answers', async () => {
    // The capture's clock stands still unless the test moves it: the usual calls take no time at all,
    // and the slow one takes 90 s without anyone waiting for them.
    const base = Date.now();
    let offset = 0;
    let tick = 0;
    const restore = useClock(() => base + offset + (tick += 0.001));
    open.push(async () => restore());
    const run = await scenario('streamable-http');
    const lines: string[] = [];
    const live = attachLiveChecks(run.proxy.engine.hub, (l) => lines.push(l), { clock: immediateClock(() => base + offset + tick) });
    open.push(async () => live.stop());
    for (let i = 0; i < 3; i++) {
      const call = run.client.callTool({ name: 'slow', arguments: {} });
      (await run.server.called()).release();
      await call;
    }
    const call = run.client.callTool({ name: 'slow', arguments: {} });
    const slow = await run.server.called();
    offset += 90_000;
    await until(() => lines.some((l) => l.includes('[tool-suddenly-slow]')), 'the live finding');
    expect(lines.find((l) => l.includes('[tool-suddenly-slow]'))).toMatch(/tools\/call slow has been running for 90 s; its 3 calls before took 0\.0 s \(median\)/);
    slow.release();
    await call;
    const all = await findings(run);
    const f = ours(all);
    expect(f.map((x) => [x.ruleId, x.severity])).toEqual([['tool-suddenly-slow', 'warning']]);
    expect(f[0].title).toBe('tools/call slow took 90 s; its 3 calls before took 0.0 s (median)');
    expect(othersQuiet(all)).toEqual([]);
  });
});

/** Runs the built CLI without blocking the event loop (the proxy under test lives in this process). */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.resolve('dist/src/cli/main.js'), ...args, '--db', tmp.db]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('mcptap show SESSION --streams', () => {
  it('lists the streams with their facts and the requests that hung, in text and JSON', async () => {
    const run = await scenario('sse', { ignoreCancel: true });
    const call = run.client.callTool({ name: 'slow', arguments: {} }, undefined, { timeout: 300 }).catch((e: Error) => e.message);
    const slow = await run.server.called();
    await call;
    await recorded(run, hasCancel, 'the cancellation');
    slow.release();
    await recorded(run, (s, id) => s.messages(id).some((m) => m.kind === 'response' && m.method === 'tools/call'), 'the late answer');
    await run.client.close();
    await recorded(run, (s, id) => s.streams(id).some((x) => x.closedAt != null), 'the stream closed');
    const store = CaptureStore.open(tmp.db, { readonly: true });
    const id = store.listSessions().find((x) => x.label === run.label)!.id;
    store.close();
    const text = await cli('show', id.slice(0, 8), '--streams');
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines.find((l) => /legacy-sse +GET \/sse/.test(l))).toMatch(/closed by the client \(first to close: client\)$/);
    expect(text.stdout).toMatch(/first byte \+\S+ · last event \S+ · last byte \S+ · 2 events, 1 keep-alive, [\d.]+[BK] · longest silence \S+/);
    expect(text.stdout).toMatch(/#\d+ tools\/call slow {2}cancelled after \S+ {2}answered after \S+ \(late, thrown away\)/);
    const json = await cli('show', id, '--streams', '--json');
    const out = JSON.parse(json.stdout);
    const get = out.streams.find((x: { kind: string }) => x.kind === 'legacy-sse');
    expect(get).toMatchObject({ carrier: 'get-sse', end: 'client-closed', closedBy: 'client', method: 'GET' });
    // The initialize answer and the late answer; the endpoint event is no message.
    expect([get.events, get.keepAlives]).toEqual([2, 1]);
    const slowCall = out.requests.find((r: { subject: string }) => r.subject === 'slow');
    expect(slowCall).toMatchObject({ gaveUpHow: 'cancelled', late: true, unseen: false, waitsOn: get.exchangeId });
  });
});

describe('a wrapped stdio server', () => {
  it("its stdout is a stream with its facts, closed by the client when it closes stdin", async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [path.resolve('dist/src/cli/main.js'), 'wrap', '--db', tmp.db, '--label', 'stdio-stream', '--', process.execPath, path.resolve('dist/test/helpers/stdio-server.js')],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'stdio-client', version: '1.0.0' });
    await client.connect(transport);
    await client.callTool({ name: 'echo', arguments: { message: 'a' } });
    await client.callTool({ name: 'echo', arguments: { message: 'b' } });
    const exited = new Promise<void>((r) => transport.onclose = () => r());
    await client.close();
    await exited;
    const store = CaptureStore.open(tmp.db, { readonly: true });
    let streams;
    try {
      const s = store.listSessions().find((x) => x.label === 'stdio-stream')!;
      await until(() => store.getSession(s.id)?.endedAt != null, 'the session end');
      streams = store.streams(s.id);
    } finally {
      store.close();
    }
    expect(streams).toHaveLength(1);
    // The answers to initialize and the two calls.
    expect(streams[0]).toMatchObject({ carrier: 'stdio', events: 3, closedBy: 'client' });
    expect(streams[0].bytes).toBeGreaterThan(0);
    expect(streams[0].closedAt).not.toBeNull();
  });
});

describe('a wrapped stdio server answering after the client left', () => {
  it('records the answer as late and never seen, and late-answer says so and nothing else', async () => {
    // A client of its own (the SDK client kills the server on close): it sends a call, then stops reading
    // stdout and closes stdin before the answer; the tool answers only once its stdin has ended.
    const wrap = spawn(process.execPath, [path.resolve('dist/src/cli/main.js'), 'wrap', '--db', tmp.db, '--label', 'stdio-left', '--',
      process.execPath, path.resolve('dist/test/helpers/stdio-server.js')], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => wrap.once('close', (code) => r(code)));
    const send = (m: object) => wrap.stdin.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\n');
    let buffered = '';
    const initialized = new Promise<void>((resolve) => wrap.stdout.on('data', (c) => {
      buffered += c;
      if (buffered.includes('"id":1')) resolve();
    }));
    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'leaving-client', version: '1.0.0' } } });
    await initialized;
    send({ method: 'notifications/initialized' });
    send({ id: 2, method: 'tools/call', params: { name: 'after-client-left', arguments: {} } });
    // The client stops reading, then closes its side: the answer that follows reaches no one.
    await new Promise<void>((r) => { wrap.stdout.once('close', () => r()); wrap.stdout.destroy(); });
    wrap.stdin.end();
    expect(await exited).toBe(0);
    expect(buffered).not.toContain('"id":2');

    const store = CaptureStore.open(tmp.db, { readonly: true });
    let id: string;
    try {
      id = store.listSessions().find((x) => x.label === 'stdio-left')!.id;
      const [stream] = store.streams(id);
      const messages = store.messages(id);
      const call = messages.find((m) => m.method === 'tools/call')!;
      const answer = messages.find((m) => m.seq === call.correlatedSeq)!;
      expect(stream).toMatchObject({ carrier: 'stdio', closedBy: 'client' });
      expect(answer.ts).toBeGreaterThan(stream.closedAt!);
    } finally {
      store.close();
    }
    const shown = JSON.parse((await cli('show', id, '--streams', '--json')).stdout);
    expect(shown.streams[0]).toMatchObject({ kind: 'stdio', end: 'client-closed', closedBy: 'client' });
    expect(shown.requests.find((r: { subject: string }) => r.subject === 'after-client-left'))
      .toMatchObject({ gaveUpHow: 'closed-stream', late: true, unseen: true });

    const checked = await cli('check', id, '--format', 'json');
    const all: Finding[] = JSON.parse(checked.stdout)[0].findings;
    expect(all.map((f) => [f.ruleId, f.severity])).toEqual([['late-answer', 'error']]);
    expect(all[0].title).toMatch(/^tools\/call after-client-left answered after \d+\.\d s, \d+\.\d s after the client gave up at \d+\.\d s$/);
    expect(all[0].explanation).toContain('the client never saw it');
    expect(checked.code).toBe(1);
  });
});
