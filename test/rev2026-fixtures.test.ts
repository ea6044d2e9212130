import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/proxy/server.js';
import { listen } from './helpers/peers.js';
import { poolFetch } from './helpers/pool-fetch.js';
import { tempDb } from './helpers/tmp.js';
import { playRun2026, readRun, replayHandler2026, RUNS_2026, sendRecorded } from './helpers/claude-fixtures.js';
import { cachingText, roundTripText } from '../src/cli/revision-format.js';

// The four real Claude Code runs against a 2026-07-28 server (Python SDK 2.3.0), played through the proxy
// as bytes: what sessions, show and check make of traffic with no handshake and no session id.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, MCPTAP_DB: tmp.db } });
const mcpOf: Record<string, string> = {};

beforeAll(async () => {
  for (const r of RUNS_2026) {
    const l = await listen(http.createServer(replayHandler2026(readRun(r, 'model'), readRun(r, 'mcp'))));
    const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: r, onWarning: () => {} });
    await playRun2026(p.url, r);
    await p.close();
    await l.close();
  }
  // `claude mcp list` (its discover, answered; the process exits) then `claude -p` (the progress-2026 run): two runs.
  {
    const l = await listen(http.createServer(replayHandler2026(readRun('progress-2026', 'model'), readRun('progress-2026', 'mcp'))));
    const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: 'list-then-p', onWarning: () => {} });
    const discover = readRun('echo-2026', 'mcp').find((e) => e.requestHeaders['mcp-method'] === 'server/discover')!;
    // Two processes: each its own connections.
    const agents = [new http.Agent({ keepAlive: true }), new http.Agent({ keepAlive: true })];
    expect((await sendRecorded(p.url, discover, poolFetch(agents[0]) as typeof fetch)).status).toBe(200);
    await playRun2026(p.url, 'progress-2026', poolFetch(agents[1]) as typeof fetch);
    for (const a of agents) a.destroy();
    await p.close();
    await l.close();
  }
  // The echo call with its Mcp-Name header dropped (as a gateway that strips unknown headers would), to a server
  // that answers it all the same: the revision still requires it.
  {
    const l = await listen(http.createServer(replayHandler2026(readRun('echo-2026', 'model'), readRun('echo-2026', 'mcp'))));
    const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: 'no-mcp-name', onWarning: () => {} });
    const call = readRun('echo-2026', 'mcp').find((e) => e.requestHeaders['mcp-method'] === 'tools/call')!;
    const { ['mcp-name']: _dropped, ...headers } = call.requestHeaders;
    expect((await sendRecorded(p.url, { ...call, requestHeaders: headers })).status).toBe(200);
    await p.close();
    await l.close();
  }
  // Two Claude Code processes started together against one server, each with its own connections (echo-2026 and
  // progress-2026 played at once; their requests are byte-identical but for the calls).
  {
    const mcp = [...readRun('echo-2026', 'mcp'), ...readRun('progress-2026', 'mcp')];
    const l = await listen(http.createServer(replayHandler2026([], mcp)));
    const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: 'two-at-once', onWarning: () => {} });
    const agents = [new http.Agent({ keepAlive: true }), new http.Agent({ keepAlive: true })];
    const mcpOnly = (f: typeof fetch): typeof fetch => (async (url: string | URL | Request, init?: RequestInit) =>
      String(url).includes('/v1/messages') ? new Response('{}') : f(url as string, init)) as typeof fetch;
    await Promise.all([playRun2026(p.url, 'echo-2026', mcpOnly(poolFetch(agents[0]) as typeof fetch)), playRun2026(p.url, 'progress-2026', mcpOnly(poolFetch(agents[1]) as typeof fetch))]);
    for (const a of agents) a.destroy();
    await p.close();
    await l.close();
  }
  const list = JSON.parse(run('sessions', '--json').stdout) as Array<{ id: string; label: string; transport: string }>;
  for (const r of RUNS_2026) mcpOf[r] = list.find((s) => s.label === r && s.transport === 'streamable-http')!.id;
}, 120_000);
afterAll(() => tmp.cleanup());

const sessionsJson = () => JSON.parse(run('sessions', '--json').stdout) as Array<Record<string, unknown>>;
const checkJson = (id: string) => (JSON.parse(run('check', id, '--format', 'json').stdout) as Array<{ findings: Array<{ ruleId: string; severity: string; title: string; explanation: string; fix: string }> }>)[0];

describe('2026-07-28 runs of Claude Code through the proxy', () => {
  it('each run is one MCP session named from _meta: client, server and revision (no more ? → ?)', () => {
    const list = sessionsJson();
    for (const r of RUNS_2026) {
      expect(list.filter((s) => s.label === r && s.transport === 'streamable-http')).toHaveLength(1);
      expect(list.find((s) => s.id === mcpOf[r])).toMatchObject({ clientName: 'claude-code', serverName: 'v2srv', protocolVersion: '2026-07-28', mcpSessionId: null });
    }
    expect(run('sessions').stdout).toMatch(new RegExp(`${mcpOf['echo-2026']}\\s+echo-2026\\s+streamable-http\\s+claude-code → v2srv\\s+2026-07-28`));
    expect(run('show', mcpOf['echo-2026']).stdout.split('\n')[0]).toContain('claude-code → v2srv  protocol 2026-07-28');
  });

  it('check: echo-2026 and progress-2026 are clean (the open subscriptions/listen is not unanswered)', () => {
    for (const r of ['echo-2026', 'progress-2026']) {
      const c = run('check', mcpOf[r]);
      expect(c.stdout).toContain('no findings');
      expect(c.status).toBe(0);
    }
  });

  it('check: tool-error-2026 has the tool error and nothing else', () => {
    expect(checkJson(mcpOf['tool-error-2026']).findings.map((f) => f.ruleId)).toEqual(['tool-errors']);
  });

  it('check: elicit-2026 is explained as one cause, the missing multi-round-trip form', () => {
    const c = run('check', mcpOf['elicit-2026']);
    expect(c.status).toBe(1);
    const f = checkJson(mcpOf['elicit-2026']).findings;
    expect(f.map((x) => x.ruleId)).toEqual(['no-back-channel']);
    expect(f[0].title).toBe('tools/call ask failed: the server tried to send elicitation/create mid-call, and revision 2026-07-28 has no channel for that');
    expect(f[0].explanation).toContain('input_required');
    expect(f[0].fix).toContain('Resolve(fn)');
  });

  it('show: the identity said once (revision, who chose it, client and server), folded out of each line', () => {
    const out = run('show', mcpOf['echo-2026']).stdout;
    expect(out).toContain('revision 2026-07-28: chosen by the client from what server/discover offered (2026-07-28), named on every request (no handshake, no session); client claude-code 2.1.330 (roots, elicitation) → server v2srv 2.3.0-holdout');
    // io.modelcontextprotocol/* is in every message's JSON, on no line of the timeline.
    expect(out.split('\n').slice(2).join('\n')).not.toContain('io.modelcontextprotocol/');
    expect(out).toMatch(/tools\/call\s+3\s+echo\(\{"message":"hello from holdout"\}\)\n/);
    expect(out).toContain('v2srv 2.3.0-holdout supports 2026-07-28');
    expect(out).toContain('listen for toolsListChanged, promptsListChanged, resourcesListChanged');
    expect(out).toContain('subscribed ("listen:0"): toolsListChanged, promptsListChanged, resourcesListChanged');
    const progress = run('show', mcpOf['progress-2026']).stdout;
    expect(progress).toMatch(/slow\(\{"steps":3\}\)\n(.*progress \d\/3\n){3}.*counted to 3\n/);
    // The raw JSON (show --json, the detail view) keeps it all.
    const json = JSON.parse(run('show', mcpOf['echo-2026'], '--json').stdout);
    expect(json.messages.find((m: { method: string; kind: string }) => m.method === 'tools/call' && m.kind === 'request').payload.params._meta['io.modelcontextprotocol/clientInfo'].name).toBe('claude-code');
    expect(json.session.revision).toMatchObject({ version: '2026-07-28', how: 'per-request', fellBack: false });
  });

  it('the join: each model tool_use is linked to its 2026 tools/call by claudecode/toolUseId', () => {
    const list = sessionsJson();
    for (const r of RUNS_2026) {
      const conv = list.find((s) => s.label === r && s.transport === 'model-api')!;
      const turns = JSON.parse(run('show', conv.id as string, '--json').stdout).turns;
      const use = turns[0].toolUses[0];
      expect(use).toMatchObject({ linkedBy: 'tool-use-id', mcpCall: { session: mcpOf[r] } });
    }
  });

  it('exports: the JSONL recording and HAR carry the names and revision; sessions --json the grouping', () => {
    const jsonl = run('export', mcpOf['echo-2026']).stdout.split('\n')[0];
    expect(JSON.parse(jsonl).session).toMatchObject({ clientInfo: { name: 'claude-code' }, serverInfo: { name: 'v2srv' }, protocolVersion: '2026-07-28', grouping: { rule: 'stateless', startedByDiscover: true, guessed: 0 } });
    const har = JSON.parse(run('export', mcpOf['echo-2026'], '--format', 'har').stdout);
    expect(har.log.comment).toContain('claude-code → v2srv, protocol 2026-07-28');
    expect(sessionsJson().find((s) => s.id === mcpOf['echo-2026'])!.grouping).toEqual({ rule: 'stateless', startedByDiscover: true, guessed: 0, uncertain: null });
  });

  it('the detail view\'s words for caching hints and round trips', () => {
    const show = JSON.parse(run('show', mcpOf['echo-2026'], '--json').stdout);
    const discover = show.messages.find((m: { method: string; kind: string }) => m.method === 'server/discover' && m.kind === 'response');
    expect(cachingText(JSON.stringify(discover.payload))).toBe('caching: stale at once (ttlMs 0); private: this caller only, never a shared cache');
    expect(cachingText(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [] } }))).toBeNull();
    expect(roundTripText({ first: 13, round: 2, rounds: 2, totalMs: 67 })).toBe('round 2 of the request #13: 2 round trips, 67ms in all');
  });

  it('`claude mcp list` then `claude -p`: two sessions, each started by its own server/discover', () => {
    const runs = sessionsJson().filter((s) => s.label === 'list-then-p' && s.transport === 'streamable-http');
    expect(runs).toHaveLength(2);
    const [list, p] = runs.map((s) => JSON.parse(run('show', s.id as string, '--json').stdout));
    expect(list.messages.map((m: { method: string }) => m.method)).toEqual(['server/discover', 'server/discover']);
    expect(list.messages[1].kind).toBe('response');
    expect(p.messages[0].method).toBe('server/discover');
    expect(p.messages.filter((m: { kind: string; method: string }) => m.kind === 'request' && m.method === 'tools/call')).toHaveLength(1);
    expect(runs[0].grouping).toMatchObject({ startedByDiscover: true, guessed: 0, uncertain: null });
    // Nothing tells mcptap that the first process has gone (a stateless run has no end): the second run's requests on
    // its new connections could have been the first's, so it says they were placed by guess (with the newest run).
    expect(runs[1].grouping).toMatchObject({ startedByDiscover: true, guessed: expect.any(Number), uncertain: expect.stringContaining('2 runs of claude-code/2.1.330') });
    expect(run('sessions').stdout).toMatch(new RegExp(`${runs[1].id}.*placed by guess`));
  });

  it('a 2026 session exported and imported keeps its names, revision and grouping, and checks the same', () => {
    const file = path.join(tmp.dir, 'echo-2026.jsonl');
    expect(run('export', mcpOf['echo-2026'], '-o', file).status).toBe(0);
    const other = tempDb();
    try {
      const r = (...a: string[]) => spawnSync(process.execPath, [cli, ...a, '--db', other.db], { encoding: 'utf8', timeout: 20_000 });
      const imported = JSON.parse(r('import', file, '--json').stdout);
      const row = (JSON.parse(r('sessions', '--json').stdout) as Array<Record<string, unknown>>).find((s) => s.id === imported.id)!;
      expect(row).toMatchObject({ clientName: 'claude-code', serverName: 'v2srv', protocolVersion: '2026-07-28', grouping: { rule: 'stateless', startedByDiscover: true } });
      expect(r('check', imported.id).stdout).toContain('no findings');
      expect(r('diff', file, imported.id).status).toBe(0);
    } finally {
      other.cleanup();
    }
  });

  it('check: a call that lacked Mcp-Name, accepted by its server, is a warning that names the header and the body\'s tool', () => {
    const id = sessionsJson().find((s) => s.label === 'no-mcp-name')!.id as string;
    const f = checkJson(id).findings;
    expect(f.map((x) => [x.ruleId, x.severity])).toEqual([['mcp-headers', 'warning']]);
    expect(f[0].title).toBe('tools/call echo had no Mcp-Name header (the body says echo); the server accepted it');
    expect(run('check', id).status).toBe(0);
  });

  it('two Claude Code processes started together: two sessions, one discover each, every message kept; a placement that was a guess is said', () => {
    const runs = sessionsJson().filter((s) => s.label === 'two-at-once' && s.transport === 'streamable-http');
    expect(runs).toHaveLength(2);
    const shows = runs.map((s) => JSON.parse(run('show', s.id as string, '--json').stdout));
    for (const sh of shows) expect(sh.messages.filter((m: { kind: string; method: string }) => m.kind === 'request' && m.method === 'server/discover')).toHaveLength(1);
    const calls = shows.flatMap((sh) => sh.messages.filter((m: { kind: string; method: string }) => m.kind === 'request' && m.method === 'tools/call').map((m: any) => m.payload.params.name));
    expect(calls.sort()).toEqual(['echo', 'slow']);
    expect(shows.reduce((n, sh) => n + sh.messages.length, 0)).toBe(12 + 15);
    for (const s of runs) {
      const g = s.grouping as { guessed: number; uncertain: string | null };
      expect(g.guessed > 0).toBe(g.uncertain != null);
    }
  });
});
