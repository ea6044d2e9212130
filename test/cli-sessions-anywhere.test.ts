import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startProxy } from '../src/proxy/server.js';
import { readRecording } from '../src/store/jsonl.js';
import { connectClient, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// A SESSION argument is an id, a prefix, or a recording file, for every command; show's output links
// messages to exchanges; show, export and search take the timeline's filter language.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const sse = path.resolve('recordings/everything-sse.jsonl');
const http = path.resolve('recordings/everything-streamable-http.jsonl');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, MCPTAP_DB: tmp.db } });
let peer: Peer;
let failing: string;

beforeAll(async () => {
  peer = await startStreamableServer();
  // A client at a wrong path: one http-status finding whose evidence is an exchange.
  const proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, label: 'wrong-path', onWarning: () => {} });
  await expect(connectClient('streamable-http', proxy.url + '/wrong')).rejects.toThrow();
  await proxy.close();
  failing = JSON.parse(run('sessions', '--json').stdout).find((s: any) => s.label === 'wrong-path').id;
  for (const f of [sse, http]) expect(run('import', f).status).toBe(0);
});

afterAll(async () => {
  await peer.close();
  tmp.cleanup();
});

describe('recordings wherever a SESSION is taken', () => {
  it('show, check and export read a .jsonl file directly', () => {
    const show = run('show', sse);
    expect(show.status).toBe(0);
    expect(show.stdout).toMatch(/^session ec4b4638dbdd {2}sse/);
    const check = run('check', sse, '--format', 'json');
    expect(check.status).toBe(0);
    expect(JSON.parse(check.stdout)).toEqual([{ session: expect.objectContaining({ id: 'ec4b4638dbdd', transport: 'sse' }), findings: [] }]);
    const har = run('export', sse, '--format', 'har');
    expect(har.status).toBe(0);
    expect(JSON.parse(har.stdout).log.entries.length).toBe(readRecording(sse).exchanges.filter((e) => e.kind === 'http').length);
  });

  it('an unknown session says how a recording is given', () => {
    const r = run('show', 'zzzz');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("a .jsonl recording is given by its path, or added with 'mcptap import FILE'");
  });
});

describe('mcptap show', () => {
  it('does not cut summaries when its output is not a terminal', () => {
    const r = run('show', sse);
    expect(r.stdout).toContain('echo({"message":"hello from the reference run"})');
  });

  it('--json links each message to its exchange and its correlated message; --exchanges lists the ids check gives as evidence', () => {
    const check = JSON.parse(run('check', failing, '--format', 'json').stdout);
    const findings = check.flatMap((s: any) => s.findings);
    const evidence: string = findings.find((f: any) => f.ruleId === 'http-status').evidence.exchangeIds[0];
    expect(evidence).toMatch(/^[0-9a-f]{16}$/);
    expect(run('show', failing, '--exchanges').stdout).toMatch(new RegExp(`^  ${evidence}  .* POST +/wrong +404`, 'm'));
    const json = JSON.parse(run('show', sse, '--json', '--exchanges').stdout);
    const ids = new Set(json.exchanges.map((e: any) => e.id));
    expect(json.messages.every((m: any) => ids.has(m.exchangeId))).toBe(true);
    const call = json.messages.find((m: any) => m.kind === 'request' && m.subject === 'echo');
    expect(json.messages.find((m: any) => m.seq === call.correlatedSeq)).toMatchObject({ kind: 'response', correlatedSeq: call.seq });
  });
});

describe('the filter language outside the TUI', () => {
  it('show --filter keeps the matching messages; a bad term is one line and exit 2', () => {
    const r = run('show', sse, '--filter', 'tool:echo');
    const rows = r.stdout.trim().split('\n').slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/→ request +tools\/call/);
    expect(rows[1]).toMatch(/← response +tools\/call .*Echo: hello/);
    const bad = run('show', sse, '--filter', 'latency:>fast');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^mcptap: --filter: .*latency/);
  });

  it('export --filter writes the matching messages with the exchanges that carried them, as a recording that loads', () => {
    const out = path.join(tmp.dir, 'requests.jsonl');
    expect(run('export', sse, '--filter', 'dir:c2s kind:request', '-o', out).status).toBe(0);
    const rec = readRecording(out);
    expect(rec.messages.length).toBeGreaterThan(3);
    expect(rec.messages.every((m) => m.kind === 'request' && m.direction === 'client->server')).toBe(true);
    expect(new Set(rec.exchanges.map((e) => e.id))).toEqual(new Set(rec.messages.map((m) => m.exchangeId)));
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
  });

  it('search finds messages across sessions; exit 1 when nothing matches', () => {
    const r = run('search', 'tool:echo', 'kind:response', '--json');
    expect(r.status).toBe(0);
    const hits = JSON.parse(r.stdout);
    expect(hits.map((h: any) => h.session).sort()).toEqual(['ec4b4638dbdd', 'fa5f1d64f01f']);
    expect(hits[0].summary).toContain('Echo: hello from the reference run');
    const text = run('search', 'hello from the reference');
    expect(text.stdout.trim().split('\n').length).toBe(4);
    const none = run('search', 'nothing-anywhere-like-this');
    expect(none.status).toBe(1);
  });
});
