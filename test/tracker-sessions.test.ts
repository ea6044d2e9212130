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
    upstreamUrl: 'http://127.0.0.1:9/mcp', status: 200, requestHeaders: headers, responseHeaders: [], startedAt: T0 + s.at * 1000,
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
    connection: s.conn ?? null,
  };
}

/** The letter of each step's session, in order of first appearance. */
function sessionsOf(steps: Step[]): string {
  const tracker = new SessionTracker(new CaptureHub(), { target: 'http://127.0.0.1:9', label: null, maxBody: 1 << 20, scrub: (t) => t });
  const letters = new Map<string, string>();
  return steps.map((s) => {
    const id = tracker.assign(hint(s)).id;
    if (!letters.has(id)) letters.set(id, String.fromCharCode(65 + letters.size));
    return letters.get(id)!;
  }).join('');
}

const CC = '127.0.0.1 claude-code/2.1.330 (sdk-cli)';
const OTHER = '127.0.0.1 node';

const ROWS: Array<[string, Step[], string]> = [
  ['a probe and the initialize after it (a new connection for the fallback): one session',
    [{ kind: 'discover', conn: ':1', at: 0 }, { kind: 'initialize', conn: ':2', at: 0.1, answersSid: 's1' }, { kind: 'rpc', conn: ':2', at: 0.2, sid: 's1' }], 'AAA'],
  ['a probe retried with the same id on a new connection, then initialize: one session',
    [{ kind: 'discover', conn: ':1', at: 0 }, { kind: 'discover', conn: ':2', at: 0.5 }, { kind: 'initialize', conn: ':3', at: 0.6, answersSid: 's1' }], 'AAA'],
  ['Claude Code with --transport sse at Streamable HTTP (two refused GETs), then the corrected run seconds later: two sessions',
    [{ kind: 'stream-get', conn: ':1', at: 0 }, { kind: 'stream-get', conn: ':2', at: 1 },
      { kind: 'discover', conn: ':3', at: 5 }, { kind: 'initialize', conn: ':4', at: 5.1, answersSid: 's2' }, { kind: 'rpc', conn: ':4', at: 5.2, sid: 's2' }], 'AABBB'],
  ['the corrected run without a probe: its initialize does not join the refused GETs',
    [{ kind: 'stream-get', conn: ':1', at: 0 }, { kind: 'initialize', conn: ':2', at: 2, answersSid: 's2' }], 'AB'],
  ['a probe from a new process while an earlier session of the same client is established: a session of its own',
    [{ kind: 'initialize', conn: ':1', at: 0, answersSid: 's1' }, { kind: 'rpc', conn: ':1', at: 1, sid: 's1' },
      { kind: 'discover', conn: ':2', at: 3 }, { kind: 'initialize', conn: ':3', at: 3.1, answersSid: 's2' }, { kind: 'rpc', conn: ':1', at: 4, sid: 's1' }], 'AABBA'],
  ['a probe after a stateless session (no session ids) of the same client: a new attempt',
    [{ kind: 'initialize', conn: ':1', at: 0 }, { kind: 'rpc', conn: ':1', at: 1 }, { kind: 'discover', conn: ':2', at: 2 }, { kind: 'initialize', conn: ':2', at: 2.1 }], 'AABB'],
  ['a probe long after the last one: a new attempt, not a retry',
    [{ kind: 'discover', conn: ':1', at: 0 }, { kind: 'discover', conn: ':2', at: 30 }], 'AB'],
  ['two clients probing at once keep their own probes',
    [{ kind: 'discover', client: CC, conn: ':1', at: 0 }, { kind: 'discover', client: OTHER, conn: ':2', at: 0.1 },
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
