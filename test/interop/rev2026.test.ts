import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../../src/proxy/server.js';
import { CaptureStore } from '../../src/store/read.js';
import { connectClient } from '../helpers/peers.js';
import { tempDb } from '../helpers/tmp.js';
import { freePort, HERE, OFFLINE_ENV, startChild, startFastMcp, venvProgram, type Child } from './peers.js';
import { spawnSync } from 'node:child_process';
import { loadDiffInput } from '../../src/analysis/input.js';
import { startMock } from '../../src/replay/mock.js';

// Revision 2026-07-28 with the real Python SDK 2.x (mcp 2.3.0): its MCPServer and its Client, through the
// proxy over Streamable HTTP and through `mcptap wrap` over stdio; a request without Mcp-Method; the
// multi-round-trip form; the TypeScript SDK 1.x client (2025-11-25, initialize) against the same server.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const mcptap = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--db', tmp.db], { encoding: 'utf8', timeout: 30_000 });
const python = () => venvProgram('.venv-mcp2', 'python');
let server: Child;
let proxy: RunningProxy;

/** Runs the SDK 2.x client script to the end; what it printed (JSON) and its exit code. */
function pyClient(args: string[]): Promise<{ code: number | null; out: any; log: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python(), [path.join(HERE, 'mcp2_client.py'), ...args], { env: { ...process.env, ...OFFLINE_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      let parsed: unknown = null;
      try { parsed = JSON.parse(last); } catch { /* the log says why */ }
      resolve({ code, out: parsed, log: err.slice(-2000) });
    });
  });
}

const sessionByLabel = (label: string) => {
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return store.listSessions({}).filter((s) => s.label === label);
  } finally {
    store.close();
  }
};
const findings = (id: string) => (JSON.parse(mcptap('check', id, '--format', 'json').stdout) as Array<{ findings: Array<{ ruleId: string; severity: string; title: string; explanation: string; fix: string }> }>)[0].findings;

beforeAll(async () => {
  const port = await freePort();
  server = await startChild('MCPServer (mcp 2.x)', python(), [path.join(HERE, 'mcp2_server.py'), '--transport', 'streamable-http', '--port', String(port), '--name', 'v2srv'], {
    port, readyUrl: `http://127.0.0.1:${port}/ready-probe`, ready: () => true, ms: 60_000,
  });
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  tmp.cleanup();
});

async function withProxy<T>(label: string, f: (url: string) => Promise<T>): Promise<T> {
  proxy = await startProxy({ target: server.url, port: 0, db: tmp.db, label, onWarning: () => {} });
  try {
    return await f(proxy.url + '/mcp');
  } finally {
    await proxy.close();
  }
}

describe('the Python SDK 2.x client and server through the proxy (Streamable HTTP)', () => {
  it('gets what it gets directly; one stateless session named from _meta; check finds only the failing tool', async () => {
    const direct = await pyClient([server.url + '/mcp']);
    expect(direct.code, direct.log).toBe(0);
    const proxied = await withProxy('py-http', (url) => pyClient([url]));
    expect(proxied.code, proxied.log).toBe(0);
    expect(proxied.out).toEqual(direct.out);
    expect(proxied.out.confirm).toEqual({ isError: false, text: 'hello Ada' });

    const [s, ...more] = sessionByLabel('py-http');
    expect(more).toHaveLength(0);
    expect(s).toMatchObject({ protocolVersion: '2026-07-28', mcpSessionId: null, clientInfo: { name: 'py-mcp2-client' }, serverInfo: { name: 'v2srv' } });
    expect(s.grouping).toEqual({ rule: 'stateless', startedByDiscover: true, guessed: 0, uncertain: null });
    // The subscription the client held and closed is no unanswered request.
    expect(findings(s.id).map((f) => f.ruleId)).toEqual(['tool-errors']);

    const show = JSON.parse(mcptap('show', s.id, '--json').stdout);
    expect(show.session.revision).toMatchObject({ version: '2026-07-28', how: 'per-request' });
    const methods = show.messages.filter((m: any) => m.kind === 'request').map((m: any) => m.method);
    expect(methods.slice(0, 3)).toEqual(['server/discover', 'subscriptions/listen', 'tools/list']);
    // confirm: input_required, then the retry with the answer: one request of two round trips.
    const rounds = show.messages.filter((m: any) => m.roundTrip).map((m: any) => [m.kind, m.roundTrip.round, m.roundTrip.rounds ?? null]);
    expect(rounds).toEqual([['request', 1, null], ['response', 1, null], ['request', 2, null], ['response', 2, 2]]);
    const text = mcptap('show', s.id).stdout;
    expect(text).toContain('input required: elicitation/create "Your name?"');
    expect(text).toMatch(/hello Ada {2}\[round 2 of #\d+: 2 round trips, .* in all\]/);
  });

  it('mock serves the recorded 2026 session to the SDK 2.x client (discover, listen held open, lists, calls, the round trips)', async () => {
    const [s] = sessionByLabel('py-http');
    const store = CaptureStore.open(tmp.db, { readonly: true });
    const recording = (() => { try { return loadDiffInput(s.id, store); } finally { store.close(); } })();
    const mock = await startMock({ recording, port: 0 });
    try {
      const mocked = await pyClient([mock.url + '/mcp']);
      expect(mocked.code, mocked.log).toBe(0);
      const direct = await pyClient([server.url + '/mcp']);
      expect(mocked.out).toEqual(direct.out);
    } finally {
      await mock.close();
    }
  });

  it('replay of the 2026 recording against the live server is equivalent (the retry carries this run\'s requestState); resend sends one call alone', () => {
    const [s] = sessionByLabel('py-http');
    const r = mcptap('replay', s.id, '--target', server.url, '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.diff.equivalent).toBe(true);
    const show = JSON.parse(mcptap('show', s.id, '--json').stdout);
    const echo = show.messages.find((m: any) => m.kind === 'request' && m.method === 'tools/call' && m.payload.params.name === 'echo');
    const resent = mcptap('resend', s.id, String(echo.seq), '--target', server.url, '--json');
    expect(resent.status, resent.stderr).toBe(0);
    const res = JSON.parse(resent.stdout);
    expect(res.same).toBe(true);
    // No handshake: the resent session holds the call and its answer, the identity _meta and headers as recorded.
    const again = JSON.parse(mcptap('show', res.resent, '--json', '--exchanges').stdout);
    expect(again.messages.map((m: any) => m.method)).toEqual(['tools/call', 'tools/call']);
    expect(again.messages[0].payload.params._meta['io.modelcontextprotocol/clientInfo'].name).toBe('py-mcp2-client');
    expect(again.exchanges[0].requestHeaders).toEqual(expect.arrayContaining([['mcp-method', 'tools/call'], ['mcp-name', 'echo']]));
  });

  it('a request without Mcp-Method, and one whose Mcp-Name differs: refused by the server, each explained as one cause', async () => {
    const answers = await withProxy('no-header', async (url) => {
      const body = (name: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { message: 'x' },
        _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } });
      const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'user-agent': 'hand-made/1' };
      const a = await fetch(url, { method: 'POST', headers: { ...base, 'mcp-name': 'echo' }, body: body('echo') });
      const b = await fetch(url, { method: 'POST', headers: { ...base, 'mcp-method': 'tools/call', 'mcp-name': 'fail' }, body: body('echo') });
      const code = async (r: Response) => ((await r.json()) as { error?: { code?: number } }).error?.code;
      return [a.status, await code(a), b.status, await code(b)];
    });
    expect(answers).toEqual([400, -32020, 400, -32020]);
    const [s] = sessionByLabel('no-header');
    const f = findings(s.id);
    expect(f.map((x) => [x.ruleId, x.severity])).toEqual([['mcp-headers', 'error'], ['mcp-headers', 'error']]);
    expect(f[0].title).toBe('tools/call echo refused (HTTP 400, -32020): the request had no Mcp-Method header (the body says tools/call)');
    expect(f[1].title).toBe('tools/call echo refused (HTTP 400, -32020): the request had Mcp-Name: fail (the body says echo)');
    expect(f[0].explanation).toContain('mcp-method header does not match');
    expect(mcptap('check', s.id).status).toBe(1);
  });
});

describe('a subscription the server drops', () => {
  it('the SDK 2.x server dies with a subscriptions/listen open: one subscription-dropped error (the cut folded under it)', async () => {
    const port = await freePort();
    const doomed = await startChild('MCPServer (mcp 2.x), to be stopped', python(), [path.join(HERE, 'mcp2_server.py'), '--transport', 'streamable-http', '--port', String(port), '--name', 'doomed'], {
      port, readyUrl: `http://127.0.0.1:${port}/ready-probe`, ready: () => true, ms: 60_000,
    });
    proxy = await startProxy({ target: doomed.url, port: 0, db: tmp.db, label: 'dropped', onWarning: () => {} });
    try {
      const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'listener', version: '1' } };
      const head = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' };
      const url = proxy.url + '/mcp';
      await (await fetch(url, { method: 'POST', headers: { ...head, 'mcp-method': 'server/discover' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: meta } }) })).text();
      const r = await fetch(url, { method: 'POST', headers: { ...head, 'mcp-method': 'subscriptions/listen' }, body: JSON.stringify({ jsonrpc: '2.0', id: 'L', method: 'subscriptions/listen', params: { _meta: meta, notifications: { toolsListChanged: true } } }) });
      const reader = r.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain('notifications/subscriptions/acknowledged');
      // uvicorn waits for the open stream on SIGTERM; stop() then kills it: the stream is cut, as in a crash.
      const ended = (async () => { try { while (!(await reader.read()).done); return 'ended'; } catch { return 'cut'; } })();
      await doomed.stop();
      expect(await ended).toBe('cut');
    } finally {
      await proxy.close();
    }
    const [s] = sessionByLabel('dropped');
    const f = findings(s.id);
    expect(f.map((x) => [x.ruleId, x.severity])).toEqual([['subscription-dropped', 'error']]);
    expect(f[0].title).toBe('the subscription "L" (subscriptions/listen) was ended by the connection breaking mid-stream without a final result');
  });
});

describe('mcptap wrap of the 2026 stdio server, driven by the SDK 2.x client', () => {
  it('answers as directly; the stdio session is named from _meta and checks clean but for the failing tool', async () => {
    const serverArgs = [path.join(HERE, 'mcp2_server.py'), '--transport', 'stdio', '--name', 'v2stdio'];
    const direct = await pyClient(['--stdio', '--calls', 'echo,fail', '--', python(), ...serverArgs]);
    expect(direct.code, direct.log).toBe(0);
    const wrapped = await pyClient(['--stdio', '--calls', 'echo,fail', '--', process.execPath, cli, 'wrap', '--db', tmp.db, '--label', 'py-stdio', '--', python(), ...serverArgs]);
    expect(wrapped.code, wrapped.log).toBe(0);
    expect(wrapped.out).toEqual(direct.out);
    const [s] = sessionByLabel('py-stdio');
    expect(s).toMatchObject({ transport: 'stdio', protocolVersion: '2026-07-28', clientInfo: { name: 'py-mcp2-client' }, serverInfo: { name: 'v2stdio' } });
    expect(findings(s.id).map((f) => f.ruleId)).toEqual(['tool-errors']);
  });
});

describe('mixed revisions: the SDK 2.x client falling back to initialize against a 1.x server', () => {
  it('one session: the refused discover (400 with a session id of its own), then initialize; 2025-11-25, said to be a fallback; no finding', async () => {
    const old = await startFastMcp('streamable-http', 'old');
    try {
      proxy = await startProxy({ target: old.url, port: 0, db: tmp.db, label: 'fallback', onWarning: () => {} });
      const r = await pyClient(['--no-listen', '--calls', 'echo', proxy.url + '/mcp']);
      await proxy.close();
      expect(r.code, r.log).toBe(0);
      expect(r.out.echo).toEqual({ isError: false, text: 'old: hi' });
    } finally {
      await old.stop();
    }
    const [s, ...more] = sessionByLabel('fallback');
    expect(more).toHaveLength(0);
    expect(s).toMatchObject({ protocolVersion: '2025-11-25', clientInfo: { name: 'py-mcp2-client' }, serverInfo: { name: 'old' } });
    const show = JSON.parse(mcptap('show', s.id, '--json').stdout);
    expect(show.messages[0]).toMatchObject({ method: 'server/discover', kind: 'request' });
    expect(show.session.revision).toMatchObject({ how: 'initialize', version: '2025-11-25', fellBack: true });
    expect(findings(s.id)).toEqual([]);
  });
});

describe('mixed revisions: the TypeScript SDK 1.x client against the 2026 server', () => {
  it('speaks 2025-11-25 through initialize (a session id); the session says which revision and who chose it', async () => {
    const id = await withProxy('ts-1x', async (url) => {
      const c = await connectClient('streamable-http', url, { name: 'ts-sdk-1x' });
      const r = await c.client.callTool({ name: 'echo', arguments: { message: 'from 1.x' } });
      await c.close();
      return (r.content as Array<{ text: string }>)[0].text;
    });
    expect(id).toBe('v2srv: from 1.x');
    const [s] = sessionByLabel('ts-1x');
    expect(s).toMatchObject({ clientInfo: { name: 'ts-sdk-1x' }, serverInfo: { name: 'v2srv' } });
    expect(s.mcpSessionId).not.toBeNull();
    expect(s.grouping ?? null).toBeNull();
    const show = JSON.parse(mcptap('show', s.id, '--json').stdout);
    expect(show.session.revision).toMatchObject({ how: 'initialize', version: s.protocolVersion, fellBack: false });
    expect(show.session.revision.chosenBy).toMatch(/^initialize: the client asked for 2025-\d\d-\d\d, the server (agreed|chose 2025-\d\d-\d\d)$/);
    expect(findings(s.id)).toEqual([]);
  });
});
