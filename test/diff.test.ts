import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CaptureStore } from '../src/store/read.js';
import { diffSessions, type DiffInput } from '../src/analysis/diff.js';
import { renderDiffText } from '../src/analysis/render.js';
import { readRecording } from '../src/store/jsonl.js';
import { startGatewayLikeServer, startPlainToolsServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { captureSession } from './helpers/capture.js';

// Sessions captured for real through the proxy, then compared: the same calls against the same
// server, against a gateway that prefixes tool names, against a server whose tool now fails.

const tmp = tempDb();
const peers: Peer[] = [];
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--db', tmp.db], { encoding: 'utf8', timeout: 60_000 });

const capture = (peer: Peer, label: string, calls: (c: Client) => Promise<void>) => captureSession(tmp.db, peer, label, calls, 'diff-test');

function input(id: string): DiffInput {
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return { session: store.getSession(id)!, messages: store.messages(id), exchanges: store.exchanges(id) };
  } finally {
    store.close();
  }
}

const usual = async (c: Client) => {
  await c.listTools();
  await c.callTool({ name: 'list_schemas', arguments: {} });
  await c.callTool({ name: 'query', arguments: { sql: 'select 1' } });
  await c.callTool({ name: 'echo', arguments: { message: 'hi' } }).catch(() => undefined);
};

let good1: string;
let good2: string;
let gateway: string;
let failing: string;
let extraList: string;
let echoOne: string;
let echoTwo: string;
let reordered: string;
let reorderedFailing: string;

beforeAll(async () => {
  const plain = await startPlainToolsServer();
  const gw = await startGatewayLikeServer({ prefix: 'db_main-' });
  const broken = await startPlainToolsServer({ failingTool: 'query' });
  peers.push(plain, gw, broken);
  good1 = await capture(plain, 'good-1', usual);
  good2 = await capture(plain, 'good-2', usual);
  gateway = await capture(gw, 'gateway', async (c) => {
    await c.listTools();
    await c.callTool({ name: 'list_schemas', arguments: {} }).catch(() => undefined);
    await c.callTool({ name: 'db_main-query', arguments: { sql: 'select 1' } });
    await c.callTool({ name: 'db_main-echo', arguments: { message: 'hi' } });
  });
  failing = await capture(broken, 'failing', usual);
  extraList = await capture(plain, 'extra-list', async (c) => {
    await c.listTools();
    await c.callTool({ name: 'list_schemas', arguments: {} });
    await c.listTools();
    await c.callTool({ name: 'query', arguments: { sql: 'select 1' } });
    await c.callTool({ name: 'echo', arguments: { message: 'hi' } });
  });
  // The same calls, two of them the other way round: a client that runs them concurrently.
  const swapped = async (c: Client) => {
    await c.listTools();
    await c.callTool({ name: 'query', arguments: { sql: 'select 1' } });
    await c.callTool({ name: 'list_schemas', arguments: {} });
    await c.callTool({ name: 'echo', arguments: { message: 'hi' } }).catch(() => undefined);
  };
  reordered = await capture(plain, 'reordered', swapped);
  reorderedFailing = await capture(broken, 'reordered-failing', swapped);
  echoOne = await capture(plain, 'echo-one', async (c) => void (await c.callTool({ name: 'echo', arguments: { message: 'one' } })));
  echoTwo = await capture(plain, 'echo-two', async (c) => void (await c.callTool({ name: 'echo', arguments: { message: 'two' } })));
});

afterAll(async () => {
  for (const p of peers) await p.close();
  tmp.cleanup();
});

describe('diffSessions', () => {
  it('finds two runs of the same calls equivalent, ids and session ids notwithstanding', () => {
    const r = diffSessions(input(good1), input(good2));
    expect(r.verdict).toMatch(/^equivalent/);
    expect(r.equivalent).toBe(true);
    expect(r.counts.same).toBeGreaterThan(5);
  });

  it('names a gateway prefix in one line and the call to the old name as failing', () => {
    const r = diffSessions(input(good1), input(gateway));
    expect(r.equivalent).toBe(false);
    expect(r.tools.pattern).toMatch(/^tool names gained the prefix 'db_main-' \(3 of 3: /);
    expect(r.tools.renamed).toContainEqual({ from: 'list_schemas', to: 'db_main-list_schemas' });
    const call = r.outcomes.find((o) => o.label === 'tools/call list_schemas')!;
    expect(call.a?.kind).toBe('result');
    expect(['error', 'isError']).toContain(call.b?.kind);
    // The calls that used the new names line up with the old ones and succeed: no outcome change.
    expect(r.outcomes).toHaveLength(1);
    const text = renderDiffText(r);
    expect(text.split('\n').filter((l) => l.includes("prefix 'db_main-'"))).toHaveLength(2);
    expect(text).toMatch(/tools\/call list_schemas .*: result → (error|isError)/);
  });

  it('reports a tool that now returns isError as an outcome change', () => {
    const r = diffSessions(input(good1), input(failing));
    expect(r.outcomes).toEqual([expect.objectContaining({ label: 'tools/call query', a: { kind: 'result' }, b: expect.objectContaining({ kind: 'isError', message: 'relation "x" does not exist' }) })]);
    expect(r.verdict).toContain('1 call now fails');
  });

  it('never lists one call as both "result → not sent" and "not sent → result" when calls came in another order', () => {
    const same = diffSessions(input(good1), input(reordered));
    expect(same.outcomes).toEqual([]);
    const r = diffSessions(input(good1), input(reorderedFailing));
    expect(r.outcomes).toEqual([expect.objectContaining({ label: 'tools/call query', a: { kind: 'result' }, b: expect.objectContaining({ kind: 'isError' }) })]);
    expect(renderDiffText(r)).not.toMatch(/not sent/);
  });

  it('aligns an inserted tools/list without shifting the pairs after it', () => {
    const r = diffSessions(input(good1), input(extraList));
    expect(r.counts.added).toBe(1);
    expect(r.counts.removed).toBe(0);
    expect(r.counts.changed).toBe(0);
    const added = r.pairs.find((p) => p.status === 'added')!;
    expect(added.b?.method).toBe('tools/list');
    const after = r.pairs.slice(r.pairs.indexOf(added) + 1);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((p) => p.status === 'same')).toBe(true);
  });

  it('shows JSON-path differences, and --ignore removes them', () => {
    const r = diffSessions(input(echoOne), input(echoTwo));
    const changed = r.changes.find((p) => p.a?.method === 'tools/call')!;
    expect(changed.paths).toContainEqual({ path: '$.params.arguments.message', change: 'changed', a: 'one', b: 'two' });
    expect(changed.response?.paths[0]).toMatchObject({ path: '$.result.content[0].text', a: 'Echo: one', b: 'Echo: two' });
    const quiet = diffSessions(input(echoOne), input(echoTwo), { ignore: ['params.arguments.message', '$.result.content[*].text'] });
    expect(quiet.equivalent).toBe(true);
  });

  it("--ignore 'params.capabilities.*' also hides a capability only one side declared", () => {
    const a = readRecording('recordings/everything-streamable-http.jsonl');
    const init = a.messages.find((m) => m.method === 'initialize' && m.kind === 'request')!;
    const v = JSON.parse(init.payload);
    v.params.capabilities = { ...v.params.capabilities, experimental: { tap: {} } };
    const b = { ...a, messages: a.messages.map((m) => (m === init ? { ...m, payload: JSON.stringify(v) } : m)) };
    const loud = diffSessions(a, b);
    expect(loud.changes.flatMap((p) => p.paths)).toContainEqual({ path: '$.params.capabilities.experimental', change: 'added', b: { tap: {} } });
    expect(diffSessions(a, b, { ignore: ['params.capabilities.*'] }).equivalent).toBe(true);
  });
});

describe('mcptap diff', () => {
  it('exits 0 when equivalent, 1 when different, 2 on bad input', () => {
    const same = run('diff', good1, good2.slice(0, 6));
    expect(same.status).toBe(0);
    expect(same.stdout).toMatch(/^equivalent/);
    const diff = run('diff', good1, gateway);
    expect(diff.status).toBe(1);
    expect(diff.stdout).toContain("tool names gained the prefix 'db_main-'");
    const json = JSON.parse(run('diff', good1, failing, '--json').stdout);
    expect(json.equivalent).toBe(false);
    expect(json.outcomes[0].label).toBe('tools/call query');
    const bad = run('diff', good1, 'nope-nope');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('compares a recording file with a live session', () => {
    const file = path.join(tmp.dir, 'good.jsonl');
    expect(run('export', good1, '-o', file).status).toBe(0);
    const r = run('diff', file, good2);
    expect(r.status).toBe(0);
    expect(run('diff', file, gateway).status).toBe(1);
  });
});
