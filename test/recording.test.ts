import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CaptureStore } from '../src/store/read.js';
import { importRecording, readRecording, recordingLines, RECORDING_VERSION } from '../src/store/jsonl.js';
import { tempDb } from './helpers/tmp.js';

// The recording format: every version ever written keeps loading (one fixture per version, made by
// test/record-references.ts from real server-everything traffic), and export ∘ import is lossless.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
const FIXTURE_V1 = path.resolve('test/fixtures/recording-v1.jsonl');
const FIXTURE_V3 = path.resolve('test/fixtures/recording-v3.jsonl');
const FIXTURE_V4 = path.resolve('test/fixtures/recording-v4.jsonl');

afterAll(() => tmp.cleanup());

describe('recording format', () => {
  it('still loads version 1, correlated and redacted', () => {
    const r = readRecording(FIXTURE_V1);
    expect(r.version).toBe(1);
    expect(r.session.transport).toBe('streamable-http');
    expect(r.session.serverInfo?.name).toBe('mcp-servers/everything');
    expect(r.messages.length).toBe(r.session.messageCount);
    const requests = r.messages.filter((m) => m.kind === 'request' && m.direction === 'client->server');
    expect(requests.every((m) => m.correlatedSeq != null)).toBe(true);
    expect(fs.readFileSync(FIXTURE_V1, 'utf8')).not.toContain('not-a-real-key');
    expect(r.exchanges[0].requestHeaders).toContainEqual(['authorization', 'Bearer sk-…4242']);
  });

  it('export → import → export of the current version is byte-identical', () => {
    expect(readRecording(FIXTURE_V4).version).toBe(RECORDING_VERSION);
    const db = path.join(tmp.dir, 'roundtrip.db');
    expect(run('import', FIXTURE_V4, '--db', db).status).toBe(0);
    const id = readRecording(FIXTURE_V4).session.id;
    const out = path.join(tmp.dir, 'again.jsonl');
    const r = run('export', id, '-o', out, '--db', db);
    expect(r.status).toBe(0);
    expect(fs.readFileSync(out)).toEqual(fs.readFileSync(FIXTURE_V4));
    // And in memory: lines written from what was read are the lines that were read.
    expect(recordingLines(readRecording(FIXTURE_V4)).join('\n') + '\n').toBe(fs.readFileSync(FIXTURE_V4, 'utf8'));
  });

  it('carries stream facts (version 4): show --streams and check answer the same from the recording as from the database', () => {
    const rec = readRecording(FIXTURE_V4);
    expect(rec.streams).toEqual([expect.objectContaining({ carrier: 'get-sse', keepAlives: 2, closedBy: 'server', resumedFrom: 'fixture-event-0' })]);
    const db = path.join(tmp.dir, 'streams.db');
    expect(run('import', FIXTURE_V4, '--db', db).status).toBe(0);
    const shown = JSON.parse(run('show', rec.session.id, '--streams', '--json', '--db', db).stdout);
    const get = shown.streams.find((s: { exchangeId: string }) => s.exchangeId === rec.streams![0].exchangeId);
    // The recorded facts, not what the exchanges alone would say (no keep-alives, no silence between bytes).
    expect(get).toMatchObject({ ...rec.streams![0], end: 'reset' });
    const fromFile = run('check', FIXTURE_V4, '--format', 'json');
    const fromDb = run('check', rec.session.id, '--format', 'json', '--db', db);
    expect(fromFile.stdout).toBe(fromDb.stdout);
    expect(JSON.parse(fromDb.stdout)[0].findings.length).toBeGreaterThan(0);
  });

  it('still loads version 3, without stream lines', () => {
    const r = readRecording(FIXTURE_V3);
    expect(r.version).toBe(3);
    expect(r.streams).toBeUndefined();
    expect(r.messages.length).toBe(r.session.messageCount);
  });

  it('a version 1 recording comes back through import and export as the same session, in the current version', () => {
    const db = path.join(tmp.dir, 'upgrade.db');
    expect(run('import', FIXTURE_V1, '--db', db).status).toBe(0);
    const old = readRecording(FIXTURE_V1);
    const out = path.join(tmp.dir, 'upgraded.jsonl');
    expect(run('export', old.session.id, '-o', out, '--db', db).status).toBe(0);
    const again = readRecording(out);
    expect(again.version).toBe(RECORDING_VERSION);
    expect(again.session).toEqual(old.session);
    expect(again.messages).toEqual(old.messages);
    expect(again.exchanges).toEqual(old.exchanges);
  });

  it('imports a session whose id is taken under a new id', () => {
    const db = path.join(tmp.dir, 'twice.db');
    const store = CaptureStore.open(db, { create: true });
    try {
      const rec = readRecording(FIXTURE_V1);
      const first = importRecording(store, rec);
      const second = importRecording(store, rec, { label: 'copy' });
      expect(first.renamed).toBe(false);
      expect(second.renamed).toBe(true);
      expect(second.session.id).not.toBe(first.session.id);
      expect(store.countMessages(second.session.id)).toBe(rec.messages.length);
      expect(store.exchanges(second.session.id)).toHaveLength(rec.exchanges.length);
    } finally {
      store.close();
    }
  });

  it('refuses bad files with one line that says where', () => {
    const bad = path.join(tmp.dir, 'bad.jsonl');
    fs.writeFileSync(bad, fs.readFileSync(FIXTURE_V1, 'utf8').split('\n').slice(0, 3).join('\n') + '\n{oops\n');
    let r = run('import', bad, '--db', path.join(tmp.dir, 'x.db'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad\.jsonl:4: not JSON/);
    fs.writeFileSync(bad, JSON.stringify({ type: 'mcptap-recording', version: 99, session: { id: 'x' } }) + '\n');
    r = run('diff', bad, FIXTURE_V1);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/version 99 was written by a newer mcptap/);
    r = run('import', path.join(tmp.dir, 'missing.jsonl'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('says a recording cut at a line boundary is shorter than announced: import refuses it (exit 2), show warns and goes on', () => {
    const lines = fs.readFileSync(FIXTURE_V4, 'utf8').trim().split('\n');
    const cut = path.join(tmp.dir, 'cut.jsonl');
    // Whole lines, the last two gone: every line left parses.
    fs.writeFileSync(cut, lines.slice(0, -2).join('\n') + '\n');
    const announced = readRecording(FIXTURE_V4).session.messageCount;
    expect(readRecording(cut).shortfall).toMatch(new RegExp(`shorter than its header announces \\(\\d+ of ${announced} messages`));
    const imported = run('import', cut, '--db', path.join(tmp.dir, 'cut.db'));
    expect(imported.status).toBe(2);
    expect(imported.stderr).toMatch(/^mcptap: .*cut\.jsonl is shorter than its header announces .*not imported/);
    expect(imported.stderr.trim().split('\n')).toHaveLength(1);
    const shown = run('show', cut);
    expect(shown.status).toBe(0);
    expect(shown.stderr).toMatch(/^mcptap: warning: .*cut\.jsonl is shorter than its header announces/);
    // A whole recording says nothing.
    expect(run('show', FIXTURE_V4).stderr).toBe('');
  });

  it('finds every checked-in recording whole', () => {
    const all = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? all(path.join(dir, d.name)) : d.name.endsWith('.jsonl') ? [path.join(dir, d.name)] : []));
    const recordings = [...all(path.resolve('test/fixtures')), ...all(path.resolve('recordings'))]
      .filter((f) => fs.readFileSync(f, 'utf8').startsWith('{"type":"mcptap-recording"'));
    expect(recordings.length).toBeGreaterThan(5);
    expect(recordings.filter((f) => readRecording(f).shortfall)).toEqual([]);
  });

  it('the checked-in references differ by transport and nothing else that matters', () => {
    const r = run('diff', 'recordings/everything-streamable-http.jsonl', 'recordings/everything-sse.jsonl', '--json');
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.handshake).toContainEqual({ field: 'transport', a: 'streamable-http', b: 'sse' });
    expect(report.outcomes).toEqual([]);
    expect(report.tools.renamed).toEqual([]);
    expect(run('diff', 'recordings/everything-streamable-http.jsonl', FIXTURE_V1).status).toBe(0);
  });
});
