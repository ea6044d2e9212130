import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { ErrorCounts } from '../src/analysis/checks/error-count.js';
import { echoServer, listen, startStatelessServer, streamableHandler } from './helpers/peers.js';
import { legacySseAttempt, probedSession } from './helpers/failed-sse.js';
import { tempDb } from './helpers/tmp.js';
import { clientRequests, playRun2026, readRun, replayHandler, replayHandler2026, RUNS, RUNS_2026, sendRecorded, type Run } from './helpers/claude-fixtures.js';

// The sessions list's ERR (and its red, `show`'s header, the MCP server's errorsOnly) is what `mcptap check`
// counts: error root causes, the ones that make check exit 1. Asserted over real captured sessions: the real
// Claude Code runs of the fixtures replayed through the proxy (the clean ones must give 0 everywhere), and a real
// SDK server through the proxy that a legacy SSE client (`claude mcp add --transport sse` at a Streamable HTTP
// /mcp/) fails against: a session with no messages at all, only refused GETs.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--db', tmp.db], { encoding: 'utf8', timeout: 60_000 });
const CLEAN: Run[] = ['echo-http', 'gateway-prefixed', 'echo-2026', 'progress-2026'];
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  for (const r of [...RUNS.filter((x) => x !== 'echo-sse'), ...RUNS_2026] as Run[]) {
    const is2026 = (RUNS_2026 as readonly string[]).includes(r);
    const l = await listen(http.createServer((is2026 ? replayHandler2026 : replayHandler)(readRun(r, 'model'), readRun(r, 'mcp'))));
    closers.push(l.close);
    const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: r, onWarning: () => {} });
    // Both halves in the order Claude Code sent them.
    if (is2026) await playRun2026(p.url, r as (typeof RUNS_2026)[number]);
    else for (const { ex } of clientRequests(r)) await sendRecorded(p.url, ex);
    await p.close();
  }
  // A real TypeScript SDK server at /mcp/: a Claude Code client refused on its probe then working, and the seed's
  // mistake, a legacy SSE client, at it (the server answers its GET 400 with a JSON-RPC error) and at a stateless
  // server that declines the GET (405, no message at all) or keeps it open without an endpoint event.
  const mcp = streamableHandler(echoServer, '/mcp/');
  const server = await listen(http.createServer((req, res) => void mcp.handle(req, res)));
  closers.push(async () => { await mcp.closeAll(); await server.close(); });
  await probedSession(tmp.db, `http://127.0.0.1:${server.port}/mcp/`, 'sdk');
  await legacySseAttempt(tmp.db, `http://127.0.0.1:${server.port}/mcp/`, 'sse-mistake');
  for (const declineGet of [true, false]) {
    const stateless = await startStatelessServer({ declineGet });
    closers.push(stateless.close);
    await legacySseAttempt(tmp.db, stateless.endpoint, 'sse-mistake');
  }
}, 180_000);
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  tmp.cleanup();
});

interface Row { id: string; label: string; transport: string; messageCount: number; errorCount: number }
interface Checked { session: { id: string }; findings: Array<{ severity: string; ruleId: string }> }

describe("ERR is check's count of error root causes", () => {
  it('equals `mcptap check` for every captured session: 0 on the clean runs, the failures counted', () => {
    const rows = JSON.parse(run('sessions', '--json').stdout) as Row[];
    const all = run('check', '--all', '--format', 'json');
    const checked = new Map((JSON.parse(all.stdout) as Checked[]).map((c) => [c.session.id, c.findings.filter((f) => f.severity === 'error').length]));
    expect(rows.length).toBeGreaterThan(10);
    for (const s of rows) expect({ id: s.id, label: s.label, errors: s.errorCount }).toEqual({ id: s.id, label: s.label, errors: checked.get(s.id) });
    for (const s of rows.filter((x) => CLEAN.includes(x.label as Run))) expect({ label: s.label, transport: s.transport, errors: s.errorCount }).toEqual({ label: s.label, transport: s.transport, errors: 0 });
    // The model called a tool the client does not have: the conversation's one error.
    expect(rows.find((s) => s.label === 'no-such-tool' && s.transport === 'model-api')!.errorCount).toBe(1);
    // The SDK client refused on its probe, then working: no error.
    expect(rows.filter((s) => s.label === 'sdk').map((s) => s.errorCount)).toEqual([0]);
    // The legacy SSE attempts: refused or hanging GETs, two with no message at all, and check's transport-mismatch.
    const failed = rows.filter((s) => s.label === 'sse-mistake');
    expect(failed.length).toBe(3);
    expect(failed.filter((s) => s.messageCount === 0).length).toBe(2);
    for (const s of failed) {
      expect(s.errorCount).toBeGreaterThan(0);
      const one = run('check', s.id, '--format', 'json');
      expect(one.status).toBe(1);
      const findings = (JSON.parse(one.stdout) as Checked[])[0].findings;
      expect(findings.filter((f) => f.severity === 'error').length).toBe(s.errorCount);
      expect(findings.map((f) => f.ruleId)).toContain('transport-mismatch');
    }
  });

  it("the plain list's ERRS column and show's header say the same", () => {
    const rows = JSON.parse(run('sessions', '--json').stdout) as Row[];
    const text = run('sessions').stdout.split('\n');
    for (const s of rows) {
      const line = text.find((l) => l.startsWith(s.id))!;
      expect(line.split(/\s{2,}/)).toContain(String(s.errorCount));
    }
    const failed = rows.find((s) => s.label === 'sse-mistake' && s.messageCount === 0)!;
    const shown = run('show', failed.id).stdout;
    expect(shown).toContain(`0 messages, ${failed.errorCount} errors`);
    // No message to print: its exchanges are what it has.
    expect(shown).toContain('no JSON-RPC message; its 1 HTTP exchange:');
    expect(shown).toMatch(/GET\s+\/mcp\s+(405|200)\s+\d/);
    // Its LENGTH is its exchanges' (it was 0: only messages and turns were timed).
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const exchanges = store.exchanges(failed.id);
      const span = Math.max(...exchanges.map((e) => e.endedAt ?? e.startedAt)) - Math.min(...exchanges.map((e) => e.startedAt));
      expect((rows.find((s) => s.id === failed.id) as Row & { lengthMs: number }).lengthMs).toBe(span);
      expect(span).toBeGreaterThan(0);
    } finally {
      store.close();
    }
  });

  it('re-checks a session only when its traffic changed', () => {
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      // The clock is read once per call, once per session, and once more after each check (its cost): so it counts the checks.
      let reads = 0;
      const counts = new ErrorCounts(store, () => reads++);
      const sessions = store.listSessions();
      const first = counts.counts(sessions);
      expect(reads).toBe(1 + 2 * sessions.length);
      reads = 0;
      const again = counts.counts(sessions);
      expect(reads).toBe(1 + sessions.length);
      expect(again.errors).toEqual(first.errors);
      expect(again.staleFor).toBeNull();
      // With no time left for checks, a fresh reader gives no count yet and asks to be called again at once.
      const spent = new ErrorCounts(store, () => reads++).counts(sessions, 0);
      expect(spent).toEqual({ errors: new Map(), staleFor: 0 });
    } finally {
      store.close();
    }
  });
});
