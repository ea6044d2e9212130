import { describe, expect, it } from 'vitest';
import { CaptureHub } from '../src/capture/hub.js';
import { SessionTracker, type SessionHint } from '../src/capture/tracker.js';
import type { Exchange } from '../src/model/model.js';

// Which session the tracker puts each exchange in, one row per situation: the exchanges in order, and
// the session each lands in as a letter (A the first session made, B the next…). The tracker is the
// real one; an exchange is described by what the proxy knows of it when it asks (SessionHint).

type Step = {
  /** What the client sent. */
  kind: 'discover' | 'initialize' | 'stream-get' | 'legacy-stream' | 'rpc' | 'oauth' | 'plain' | 'delete';
  /** The HTTP status of the answer (a refused probe: 404 or 400); default 200. */
  status?: number;
  /** A discover answered with its result (a 2026-07-28 server): recorded as the request and its response. */
  answered?: boolean;
  /** The clientInfo a 2026-07-28 request names in _meta (name/version). */
  who?: string;
  /** Client (address + User-Agent) and TCP connection. */
  client?: string;
  conn?: string;
  /** Seconds since the start of the row. */
  at: number;
  /** Mcp-Session-Id sent, and answered. */
  sid?: string;
  answersSid?: string;
  legacy?: string;
};

const T0 = 1_796_000_000_000;
let n = 0;

function hint(s: Step): SessionHint {
  const headers: Array<[string, string]> = [];
  if (s.kind === 'stream-get' || s.kind === 'legacy-stream') headers.push(['accept', 'text/event-stream']);
  else headers.push(['accept', 'application/json, text/event-stream']);
  const ex: Exchange = {
    id: (n++).toString(16).padStart(16, '0'), sessionId: null, kind: 'http',
    method: s.kind === 'stream-get' || s.kind === 'legacy-stream' || s.kind === 'oauth' || s.kind === 'plain' ? 'GET' : s.kind === 'delete' ? 'DELETE' : 'POST',
    url: s.kind === 'oauth' ? '/.well-known/oauth-protected-resource/mcp' : s.kind === 'plain' ? '/favicon.ico' : s.legacy ? `/message?sessionId=${s.legacy}` : '/mcp',
    upstreamUrl: 'http://127.0.0.1:9/mcp', status: s.status ?? 200, requestHeaders: headers, responseHeaders: [], startedAt: T0 + s.at * 1000,
    firstByteAt: null, endedAt: null, requestBytes: 0, responseBytes: 0, requestBody: null, responseBody: null,
    requestTruncated: false, responseTruncated: false, failure: null, aborted: false, closedBy: null, rewrites: [], clientAddress: null,
  };
  return {
    exchange: ex,
    requestSessionId: s.sid ?? null,
    responseSessionId: s.answersSid ?? null,
    legacySessionId: s.legacy ?? null,
    hasInitialize: s.kind === 'initialize',
    hasProbe: s.kind === 'discover',
    isMcp: s.kind !== 'oauth' && s.kind !== 'plain',
    isLegacyStream: s.kind === 'legacy-stream',
    clientKey: s.client ?? '127.0.0.1 claude-code/2.1.330 (sdk-cli)',
    clientName: s.who ?? null,
    connection: s.conn ?? null,
  };
}

/** Records a server/discover request and its result on the session, as the proxy does with what it decoded. */
function answerDiscover(tracker: SessionTracker, sessionId: string, exchangeId: string, ts: number): void {
  const msg = (value: Record<string, unknown>, kind: 'request' | 'response') => {
    const text = JSON.stringify(value);
    return { kind, rpcId: 'd', method: kind === 'request' ? 'server/discover' : null, subject: null, isError: false, errorCode: null, decodeError: null, value, text, batchIndex: null, size: text.length };
  };
  tracker.record(sessionId, exchangeId, 'client->server', 'request-body', [msg({ jsonrpc: '2.0', id: 'd', method: 'server/discover', params: {} }, 'request')], ts);
  tracker.record(sessionId, exchangeId, 'server->client', 'response-body', [msg({ jsonrpc: '2.0', id: 'd', result: { supportedVersions: ['2026-07-28'], resultType: 'complete' } }, 'response')], ts + 1);
}

/** The letter of each step's session, in order of first appearance; a session whose grouping was a guess gets `?` after its last step. */
function sessionsOf(steps: Step[]): string {
  const tracker = new SessionTracker(new CaptureHub(), { target: 'http://127.0.0.1:9', label: null, maxBody: 1 << 20, scrub: (t) => t });
  const letters = new Map<string, string>();
  return steps.map((s) => {
    const h = hint(s);
    const session = tracker.assign(h);
    if (s.answered) answerDiscover(tracker, session.id, h.exchange.id, h.exchange.startedAt);
    if (!letters.has(session.id)) letters.set(session.id, String.fromCharCode(65 + letters.size));
    return letters.get(session.id)! + (session.grouping?.uncertain && session.grouping.guessed === 1 && tracker.get(session.id) ? '?' : '');
  }).join('');
}

const CC = '127.0.0.1 claude-code/2.1.330 (sdk-cli)';
const OTHER = '127.0.0.1 node';
const CC_INFO = 'claude-code/2.1.330';

// A probe in the rows before the 2026 ones is refused (404) by a server older than 2026-07-28, as a real one does.
const ROWS: Array<[string, Step[], string]> = [
  ['a probe and the initialize after it (a new connection for the fallback): one session',
    [{ kind: 'discover', status: 404, conn: ':1', at: 0 }, { kind: 'initialize', conn: ':2', at: 0.1, answersSid: 's1' }, { kind: 'rpc', conn: ':2', at: 0.2, sid: 's1' }], 'AAA'],
  ['a probe retried with the same id on a new connection, then initialize: one session',
    [{ kind: 'discover', status: 404, conn: ':1', at: 0 }, { kind: 'discover', status: 404, conn: ':2', at: 0.5 }, { kind: 'initialize', conn: ':3', at: 0.6, answersSid: 's1' }], 'AAA'],
  ['Claude Code with --transport sse at Streamable HTTP (two refused GETs), then the corrected run seconds later: two sessions',
    [{ kind: 'stream-get', conn: ':1', at: 0 }, { kind: 'stream-get', conn: ':2', at: 1 },
      { kind: 'discover', status: 404, conn: ':3', at: 5 }, { kind: 'initialize', conn: ':4', at: 5.1, answersSid: 's2' }, { kind: 'rpc', conn: ':4', at: 5.2, sid: 's2' }], 'AABBB'],
  ['the corrected run without a probe: its initialize does not join the refused GETs',
    [{ kind: 'stream-get', conn: ':1', at: 0 }, { kind: 'initialize', conn: ':2', at: 2, answersSid: 's2' }], 'AB'],
  ['a probe from a new process while an earlier session of the same client is established: a session of its own',
    [{ kind: 'initialize', conn: ':1', at: 0, answersSid: 's1' }, { kind: 'rpc', conn: ':1', at: 1, sid: 's1' },
      { kind: 'discover', status: 404, conn: ':2', at: 3 }, { kind: 'initialize', conn: ':3', at: 3.1, answersSid: 's2' }, { kind: 'rpc', conn: ':1', at: 4, sid: 's1' }], 'AABBA'],
  ['a probe after a stateless session (no session ids) of the same client: a new attempt',
    [{ kind: 'initialize', conn: ':1', at: 0 }, { kind: 'rpc', conn: ':1', at: 1 }, { kind: 'discover', status: 404, conn: ':2', at: 2 }, { kind: 'initialize', conn: ':2', at: 2.1 }], 'AABB'],
  ['a probe long after the last one: a new attempt, not a retry',
    [{ kind: 'discover', status: 404, conn: ':1', at: 0 }, { kind: 'discover', status: 404, conn: ':2', at: 30 }], 'AB'],
  ['two clients probing at once keep their own probes',
    [{ kind: 'discover', status: 404, client: CC, conn: ':1', at: 0 }, { kind: 'discover', status: 404, client: OTHER, conn: ':2', at: 0.1 },
      { kind: 'initialize', client: OTHER, conn: ':3', at: 0.2 }, { kind: 'initialize', client: CC, conn: ':4', at: 0.3 }], 'ABBA'],
  ['a request sent before initialize joins the initialize (ordering tells it)',
    [{ kind: 'rpc', conn: ':1', at: 0 }, { kind: 'initialize', conn: ':1', at: 0.1, answersSid: 's1' }], 'AA'],
  ['a second initialize after a completed one starts another session (a reconnect)',
    [{ kind: 'initialize', conn: ':1', at: 0, answersSid: 's1' }, { kind: 'initialize', conn: ':1', at: 1, answersSid: 's2' }], 'AB'],
  ['the standalone GET of a stateless session is that session\'s, on its connection',
    [{ kind: 'initialize', conn: ':1', at: 0 }, { kind: 'stream-get', conn: ':1', at: 0.1 }], 'AA'],
  ['a known Mcp-Session-Id wins over the connection; an unknown one is a session the proxy joins late',
    [{ kind: 'initialize', conn: ':1', at: 0, answersSid: 's1' }, { kind: 'rpc', conn: ':2', at: 1, sid: 's1' }, { kind: 'rpc', conn: ':1', at: 2, sid: 'older' }], 'AAB'],
  ['a legacy SSE stream and its POSTs by sessionId',
    [{ kind: 'legacy-stream', conn: ':1', at: 0 }, { kind: 'initialize', conn: ':2', at: 0.1, legacy: 'L1' }], 'AA'],
  ['OAuth discovery after a refused request joins it; unrelated plain HTTP does not',
    [{ kind: 'initialize', conn: ':1', at: 0 }, { kind: 'oauth', conn: ':2', at: 0.1 }, { kind: 'plain', conn: ':3', at: 0.2 }], 'AAB'],

  // Stateless grouping (2026-07-28: no initialize, no session id; see the rule in tracker.ts). Claude Code
  // sends server/discover first, then its listen and lists on connections of its own, all with the same User-Agent.
  ['a 2026 run: discover, then listen and lists on new connections, a call on the first: one session',
    [{ kind: 'discover', answered: true, conn: ':1', at: 0, who: CC_INFO }, { kind: 'rpc', conn: ':2', at: 0.03, who: CC_INFO }, { kind: 'rpc', conn: ':3', at: 0.04, who: CC_INFO },
      { kind: 'rpc', conn: ':1', at: 0.05, who: CC_INFO }, { kind: 'rpc', conn: ':1', at: 9, who: CC_INFO }], 'AAAAA'],
  ['`claude mcp list` (a discover answered) then `claude -p` a second later: two sessions',
    [{ kind: 'discover', answered: true, conn: ':1', at: 0, who: CC_INFO }, { kind: 'discover', answered: true, conn: ':2', at: 1, who: CC_INFO }, { kind: 'rpc', conn: ':2', at: 1.1, who: CC_INFO }], 'ABB'],
  ['a refused discover retried is still one attempt; one that got its result is not retried',
    [{ kind: 'discover', conn: ':1', at: 0, status: 400 }, { kind: 'discover', answered: true, conn: ':2', at: 0.5 }, { kind: 'discover', answered: true, conn: ':3', at: 1 }], 'AAB'],
  ['two Claude Code processes started together, each on its own connections: two sessions',
    [{ kind: 'discover', answered: true, conn: ':1', at: 0, who: CC_INFO }, { kind: 'discover', answered: true, conn: ':2', at: 0.01, who: CC_INFO },
      { kind: 'rpc', conn: ':1', at: 0.1, who: CC_INFO }, { kind: 'rpc', conn: ':2', at: 0.1, who: CC_INFO }, { kind: 'rpc', conn: ':1', at: 5, who: CC_INFO }], 'ABABA'],
  ['two processes at once, a request on a connection new to mcptap: placed with the most recently active, and said to be a guess',
    [{ kind: 'discover', answered: true, conn: ':1', at: 0, who: CC_INFO }, { kind: 'discover', answered: true, conn: ':2', at: 0.01, who: CC_INFO }, { kind: 'rpc', conn: ':3', at: 0.02, who: CC_INFO }], 'ABB?'],
  ['two clients with one User-Agent but different clientInfo on new connections are never mixed',
    [{ kind: 'discover', answered: true, conn: ':1', at: 0, who: CC_INFO }, { kind: 'rpc', conn: ':2', at: 0.1, who: 'other-client/1.0' }, { kind: 'rpc', conn: ':3', at: 0.2, who: CC_INFO }], 'ABA'],
  ['the proxy started mid-run: the first stateless request starts a session, the rest join it',
    [{ kind: 'rpc', conn: ':1', at: 0, who: CC_INFO }, { kind: 'rpc', conn: ':2', at: 0.1, who: CC_INFO }], 'AA'],
  ['a 2026 client falling back: discover refused (400), then initialize: one session, an ordinary one',
    [{ kind: 'discover', conn: ':1', at: 0, status: 400 }, { kind: 'initialize', conn: ':2', at: 0.1, answersSid: 's1' }, { kind: 'rpc', conn: ':2', at: 0.2, sid: 's1' }], 'AAA'],
  ['the Python SDK 1.x refuses the discover (400) with a session id of its own; the fallback initialize joins it',
    [{ kind: 'discover', conn: ':1', at: 0, status: 400, answersSid: 'refused' }, { kind: 'initialize', conn: ':1', at: 0.08, answersSid: 's1' }, { kind: 'rpc', conn: ':2', at: 0.2, sid: 's1' }], 'AAA'],
  ['an initialize after an answered discover is another client\'s handshake, not a fallback',
    [{ kind: 'discover', answered: true, conn: ':1', at: 0, who: CC_INFO }, { kind: 'initialize', conn: ':2', at: 0.5, answersSid: 's1' }], 'AB'],
];

describe('session resolution in the tracker', () => {
  for (const [name, steps, expected] of ROWS) {
    it(name, () => {
      const bind = steps.find((s) => s.legacy);
      if (!bind) return void expect(sessionsOf(steps)).toBe(expected);
      // A legacy stream's POSTs find it once its endpoint event named the sessionId.
      const tracker = new SessionTracker(new CaptureHub(), { target: 'http://127.0.0.1:9', label: null, maxBody: 1 << 20, scrub: (t) => t });
      const first = tracker.assign(hint(steps[0]));
      tracker.bindLegacy(first.id, bind.legacy!);
      expect(steps.slice(1).map((s) => (tracker.assign(hint(s)).id === first.id ? 'A' : 'B')).join('')).toBe(expected.slice(1));
    });
  }
});

describe('stateless grouping facts on the session', () => {
  const tracker = () => new SessionTracker(new CaptureHub(), { target: 'http://127.0.0.1:9', label: null, maxBody: 1 << 20, scrub: (t) => t });

  it('a run started by discover says so, with no guess; a fallback to initialize is no stateless session', () => {
    const t = tracker();
    const s = t.assign(hint({ kind: 'discover', conn: ':1', at: 0, who: CC_INFO }));
    answerDiscover(t, s.id, 'x', T0);
    t.assign(hint({ kind: 'rpc', conn: ':2', at: 0.1, who: CC_INFO }));
    expect(t.get(s.id)!.grouping).toEqual({ rule: 'stateless', startedByDiscover: true, guessed: 0, uncertain: null });
    const u = tracker();
    const f = u.assign(hint({ kind: 'discover', conn: ':1', at: 0, status: 404 }));
    expect(u.get(f.id)!.grouping?.rule).toBe('stateless');
    u.assign(hint({ kind: 'initialize', conn: ':2', at: 0.1, answersSid: 's1' }));
    expect(u.get(f.id)!.grouping).toBeNull();
  });

  it('a guess among two live runs is counted and said in words', () => {
    const t = tracker();
    const a = t.assign(hint({ kind: 'discover', conn: ':1', at: 0, who: CC_INFO }));
    answerDiscover(t, a.id, 'x', T0);
    const b = t.assign(hint({ kind: 'discover', conn: ':2', at: 0.01, who: CC_INFO }));
    t.assign(hint({ kind: 'rpc', conn: ':3', at: 0.02, who: CC_INFO }));
    t.assign(hint({ kind: 'rpc', conn: ':4', at: 0.03, who: CC_INFO }));
    expect(t.get(b.id)!.grouping).toMatchObject({ guessed: 2, uncertain: expect.stringContaining('2 runs of claude-code/2.1.330') });
  });
});
