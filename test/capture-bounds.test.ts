import { describe, expect, it } from 'vitest';
import v8 from 'node:v8';
import vm from 'node:vm';
import { CaptureHub } from '../src/capture/hub.js';
import { SessionTracker } from '../src/capture/tracker.js';
import { ConversationTracker } from '../src/capture/conversations.js';
import { StreamTracker, type StreamFacts } from '../src/capture/streams.js';
import { newExchange } from '../src/capture/new-exchange.js';
import { attachLiveChecks, type LiveClock } from '../src/analysis/checks/live.js';
import { runChecks } from '../src/analysis/checks/engine.js';
import { decodeJsonRpcText } from '../src/wire/jsonrpc.js';
import type { Exchange, RpcMessage, Session } from '../src/model/model.js';

// What a long-running proxy keeps per session, driven through the capture's own API with the capture
// clock (exchange and message timestamps) standing in for time: nothing here sleeps.

const MIN = 60_000;
const rpc = (v: unknown) => decodeJsonRpcText(JSON.stringify(v));

function post(at: number, sessionHeader: string | null, client: string): Exchange {
  const headers: Array<[string, string]> = [['accept', 'application/json, text/event-stream']];
  if (sessionHeader) headers.push(['mcp-session-id', sessionHeader]);
  return newExchange({ kind: 'http', method: 'POST', url: '/mcp', upstreamUrl: 'http://127.0.0.1:9/mcp', requestHeaders: headers, startedAt: at, clientAddress: client });
}

/** Timers that fire on the next turn of the event loop, on a clock the test moves. */
function testClock(): LiveClock & { advance(ms: number): void } {
  let t = 0;
  return {
    now: () => t,
    advance: (ms) => void (t += ms),
    after(_ms, fn) {
      let live = true;
      setImmediate(() => live && fn());
      return { cancel: () => void (live = false) };
    },
  };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

function heapUsed(): number {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('sessions that never send DELETE', () => {
  it('10,000 sessions, each with a 100 KB request never answered: forgotten when idle, heap growth under 64 MB', () => {
    const hub = new CaptureHub();
    const tracker = new SessionTracker(hub, { target: 'http://127.0.0.1:9', label: null, maxBody: 1 << 20, scrub: (t) => t });
    const before = heapUsed();
    const t0 = Date.parse('2026-12-01T00:00:00Z');
    const big = 'x'.repeat(100 * 1024);
    // One new client session every 10 s of capture time (28 hours in all); each is idle past
    // IDLE_FORGET_MS (30 min) 30 minutes later, so about 180 are remembered at any time.
    for (let i = 0; i < 10_000; i++) {
      const at = t0 + i * 10_000;
      const init = post(at, null, `127.0.0.1:${10_000 + i}`);
      const s = tracker.assign({ exchange: init, requestSessionId: null, responseSessionId: `sid-${i}`, legacySessionId: null, hasInitialize: true, isMcp: true, isLegacyStream: false, clientKey: `client-${i}`, connection: init.clientAddress });
      tracker.record(s.id, init.id, 'client->server', 'request-body', rpc({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }), at);
      tracker.exchangeEnded(s.id, at + 5);
      const call = post(at + 10, `sid-${i}`, init.clientAddress!);
      tracker.assign({ exchange: call, requestSessionId: `sid-${i}`, responseSessionId: null, legacySessionId: null, hasInitialize: false, isMcp: true, isLegacyStream: false, clientKey: `client-${i}`, connection: call.clientAddress });
      tracker.record(s.id, call.id, 'client->server', 'request-body', rpc({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'big', arguments: { text: `${i}${big}` } } }), at + 10);
      // Its POST ended (the answer was to come on the session's stream; it never did).
      tracker.exchangeEnded(s.id, at + 20);
    }
    const sizes = tracker.sizes();
    expect(sizes.sessions).toBeLessThanOrEqual(200);
    // Each remembered session's initialize and tools/call, both unanswered.
    expect(sizes.pending).toBeLessThanOrEqual(400);
    expect(sizes.mcpIds).toBeLessThanOrEqual(200);
    expect(sizes.clients).toBeLessThanOrEqual(200);
    expect(sizes.connections).toBeLessThanOrEqual(200);
    const grown = heapUsed() - before;
    console.error(`heap growth ${(grown / 1048576).toFixed(1)} MB for ${sizes.sessions} sessions remembered`);
    expect(grown).toBeLessThan(64 * 1024 * 1024);
  });

  it('keeps a quiet session whose stream is still open, and one with recent traffic', () => {
    const tracker = new SessionTracker(new CaptureHub(), { target: 'http://127.0.0.1:9', label: null, maxBody: 1 << 20, scrub: (t) => t, idleForgetMs: 10 * MIN });
    const t0 = Date.parse('2026-12-01T00:00:00Z');
    const stream = post(t0, null, '127.0.0.1:1');
    const s = tracker.assign({ exchange: stream, requestSessionId: null, responseSessionId: 'open-stream', legacySessionId: null, hasInitialize: true, isMcp: true, isLegacyStream: false, clientKey: 'a' });
    // Another client's traffic two hours later runs the sweep: the stream (never ended) keeps its session.
    const other = post(t0 + 120 * MIN, null, '127.0.0.1:2');
    tracker.assign({ exchange: other, requestSessionId: null, responseSessionId: 'other', legacySessionId: null, hasInitialize: true, isMcp: true, isLegacyStream: false, clientKey: 'b' });
    expect(tracker.get(s.id)).not.toBeNull();
    tracker.exchangeEnded(s.id, t0 + 121 * MIN);
    const late = post(t0 + 200 * MIN, null, '127.0.0.1:3');
    tracker.assign({ exchange: late, requestSessionId: null, responseSessionId: 'late', legacySessionId: null, hasInitialize: true, isMcp: true, isLegacyStream: false, clientKey: 'c' });
    expect(tracker.get(s.id)).toBeNull();
  });

  it('a cancelled request waits no more, and an answer after the cancel still pairs with it', () => {
    const tracker = new SessionTracker(new CaptureHub(), { target: 'http://127.0.0.1:9', label: null, maxBody: 1 << 20, scrub: (t) => t });
    const t0 = Date.parse('2026-12-01T00:00:00Z');
    const ex = post(t0, null, '127.0.0.1:1');
    const s = tracker.assign({ exchange: ex, requestSessionId: null, responseSessionId: 'c1', legacySessionId: null, hasInitialize: true, isMcp: true, isLegacyStream: false, clientKey: 'a' });
    const [req] = tracker.record(s.id, ex.id, 'client->server', 'request-body', rpc({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'slow' } }), t0);
    expect(tracker.sizes().pending).toBe(1);
    tracker.record(s.id, ex.id, 'client->server', 'request-body', rpc({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'timed out' } }), t0 + 1000);
    // Cancelled requests are kept apart (bounded), no longer counted as waiting.
    const [late] = tracker.record(s.id, ex.id, 'server->client', 'response-sse', rpc({ jsonrpc: '2.0', id: 7, result: {} }), t0 + 2000);
    expect(late.correlatedSeq).toBe(req.seq);
    expect(tracker.sizes().pending).toBe(0);
  });

  it('the conversation tracker forgets idle conversations', () => {
    const hub = new CaptureHub();
    const conversations = new ConversationTracker(hub, { target: 'http://127.0.0.1:9', label: null, scrub: (t) => t, idleForgetMs: 10 * MIN });
    const t0 = Date.parse('2026-12-01T00:00:00Z');
    const sizes = () => (conversations as unknown as { byId: Map<string, unknown> }).byId.size;
    for (let i = 0; i < 1000; i++) {
      const ex = post(t0 + i * MIN, null, '127.0.0.1:1');
      const s = conversations.assign(ex, [['x-claude-code-session-id', `conv-${i}`]], { api: 'anthropic', model: 'm', stream: true, messageCount: 1, firstMessage: `hi ${i}`, tools: null, toolNames: [] } as never, 'k');
      conversations.record({ sessionId: s.id, exchangeId: ex.id, ts: ex.startedAt, endedAt: ex.startedAt + 1000, toolUses: [], toolResults: [], serverResults: [], mcpServers: [], mcpListings: [], text: '', error: null } as never);
    }
    expect(sizes()).toBeLessThanOrEqual(12);
  });
});

describe('live checks', () => {
  it('read stream facts: a stream kept alive by keep-alives and then ended by the server is told as check tells it', async () => {
    const hub = new CaptureHub();
    const tracker = new SessionTracker(hub, { target: 'http://127.0.0.1:9', label: null, maxBody: 1 << 20, scrub: (t) => t });
    const streams = new StreamTracker(hub);
    const clock = testClock();
    const lines: string[] = [];
    const live = attachLiveChecks(hub, (l) => lines.push(l), { clock, debounceMs: 0 });
    const facts = new Map<string, StreamFacts>();
    hub.on('stream', (f) => void facts.set(f.exchangeId, f));
    let session: Session | null = null;
    hub.on('session', (s) => void (session = s));
    const messages = new Map<string, RpcMessage>();
    hub.on('message', (m) => void messages.set(`${m.seq}`, m));
    const exchanges = new Map<string, Exchange>();
    hub.on('exchange', (e) => void exchanges.set(e.id, e));
    try {
      const t0 = Date.now() - 10 * MIN;
      const init = post(t0, null, '127.0.0.1:1');
      const s = tracker.assign({ exchange: init, requestSessionId: null, responseSessionId: 'ka', legacySessionId: null, hasInitialize: true, isMcp: true, isLegacyStream: false, clientKey: 'a' });
      tracker.record(s.id, init.id, 'client->server', 'request-body', rpc({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }), t0);
      init.status = 200;
      tracker.record(s.id, init.id, 'server->client', 'response-body', rpc({ jsonrpc: '2.0', id: 0, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 's', version: '1' } } }), t0 + 5);
      init.endedAt = t0 + 5;
      hub.emit('exchange', init);
      const call = post(t0 + 1000, 'ka', '127.0.0.1:1');
      tracker.assign({ exchange: call, requestSessionId: 'ka', responseSessionId: null, legacySessionId: null, hasInitialize: false, isMcp: true, isLegacyStream: false, clientKey: 'a' });
      tracker.record(s.id, call.id, 'client->server', 'request-body', rpc({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow' } }), t0 + 1000);
      call.status = 200;
      call.firstByteAt = t0 + 1001;
      call.responseHeaders = [['content-type', 'text/event-stream']];
      streams.opened(call, 'post-sse', t0 + 1001);
      // A keep-alive comment every 10 s for a minute, then the server ends the stream: no silence, no idle timeout.
      for (let t = t0 + 1001; t <= t0 + 61_001; t += 10_000) {
        streams.bytes(call.id, 8, t);
        streams.event(call.id, 'keepalive', t);
      }
      call.endedAt = t0 + 62_000;
      call.closedBy = 'server';
      streams.closed(call.id, 'server', call.endedAt);
      hub.emit('exchange', call);
      await turn();
      await turn();
      const checked = runChecks({ session: session!, messages: [...messages.values()], exchanges: [...exchanges.values()], streams: [...facts.values()] }, {});
      const dropped = checked.find((f) => f.ruleId === 'stream-dropped')!;
      expect(dropped.title).toMatch(/was ended by the server with 1 request in flight/);
      expect(lines.find((l) => l.includes('[stream-dropped]'))).toContain(dropped.title);
    } finally {
      live.stop();
    }
  });

  it('forget a session quiet past the idle time', async () => {
    const hub = new CaptureHub();
    const tracker = new SessionTracker(hub, { target: 'http://127.0.0.1:9', label: null, maxBody: 1 << 20, scrub: (t) => t });
    const clock = testClock();
    const live = attachLiveChecks(hub, () => {}, { clock, debounceMs: 0, idleMs: 10 * MIN, forgetMs: 30 * MIN });
    try {
      const t0 = Date.now();
      for (let i = 0; i < 100; i++) {
        const ex = post(t0, null, `127.0.0.1:${i}`);
        const s = tracker.assign({ exchange: ex, requestSessionId: null, responseSessionId: `f${i}`, legacySessionId: null, hasInitialize: true, isMcp: true, isLegacyStream: false, clientKey: `k${i}` });
        tracker.record(s.id, ex.id, 'client->server', 'request-body', rpc({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } }), t0);
      }
      await turn();
      expect(live.stats().sessions).toBe(100);
      clock.advance(31 * MIN);
      // Another session's traffic runs a round, which forgets the quiet ones.
      const ex = post(t0, null, '127.0.0.1:999');
      tracker.assign({ exchange: ex, requestSessionId: null, responseSessionId: 'fresh', legacySessionId: null, hasInitialize: true, isMcp: true, isLegacyStream: false, clientKey: 'fresh' });
      await turn();
      await turn();
      expect(live.stats().sessions).toBe(1);
    } finally {
      live.stop();
    }
  });
});
