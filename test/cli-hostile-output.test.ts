import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { connectClient, startStreamableServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// What a hostile peer sends, read back by every viewer: a tools/call nested 6,000 levels deep (deeper
// than JSON.stringify's stack) and strings that carry terminal escape sequences (an OSC window title, a
// CSI clear screen, an OSC 52 clipboard write). The viewers print every message without overflowing their
// stack and never print a control character from the wire to a terminal; --json stays exact.

const tmp = tempDb();
let peer: Peer;
const cli = path.resolve('dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, MCPTAP_DB: tmp.db } });

const DEPTH = 6000;
const TITLE = '\x1b]0;pwned\x07';
const CLEAR = '\x1b[2J\x1b[H';
const CLIPBOARD = '\x1b]52;c;ZWNobyBwd25lZA==\x07';
const EVIL_NAME = `evil${TITLE}${CLEAR}client`;
const EVIL_TOOL = `echo${CLIPBOARD}`;

function deep(n: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

/** Any control character a terminal acts on (C0 but tab and newline, DEL, C1). */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

beforeAll(async () => {
  peer = await startStreamableServer();
  const proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, label: 'hostile', onWarning: () => {} });
  const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: EVIL_NAME });
  await c.client.callTool({ name: 'echo', arguments: { message: `hi${CLEAR}` } });
  // The SDK client would stringify the arguments itself (and overflow): the deep call goes as raw text.
  const nested = `{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"${EVIL_TOOL.replace(/[\x00-\x1f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)}","arguments":{"x":${'['.repeat(DEPTH)}1${']'.repeat(DEPTH)}}}}`;
  const sessionId = (c.client.transport as { sessionId?: string }).sessionId!;
  const r = await fetch(proxy.url + '/mcp', {
    method: 'POST', body: nested,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
  });
  await r.text();
  await c.close();
  await proxy.close();
});

afterAll(async () => {
  await peer.close();
  tmp.cleanup();
});

function sessionId(): string {
  const s = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return s.listSessions({}).find((x) => x.clientInfo?.name === EVIL_NAME)!.id;
  } finally {
    s.close();
  }
}

describe('a tools/call nested 6,000 levels deep', () => {
  it('is recorded', () => {
    const s = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const calls = s.messages(sessionId()).filter((m) => m.method === 'tools/call' && m.kind === 'request');
      expect(calls.some((m) => m.payload.includes('['.repeat(DEPTH)))).toBe(true);
    } finally {
      s.close();
    }
  });

  it.each([
    ['show', ['show', 'SID']],
    ['show --json', ['show', 'SID', '--json']],
    ['search', ['search', 'tools/call']],
    ['search --json', ['search', 'tools/call', '--json']],
    ['diff', ['diff', 'SID', 'SID']],
    ['diff --json', ['diff', 'SID', 'SID', '--json']],
    ['check', ['check', 'SID']],
    ['export jsonl', ['export', 'SID']],
    ['export har', ['export', 'SID', '--format', 'har']],
  ])('%s prints it without overflowing its stack', (_, args) => {
    const id = sessionId();
    const r = run(...args.map((a) => (a === 'SID' ? id : a)));
    expect(r.stderr).not.toContain('Maximum call stack');
    expect([0, 1]).toContain(r.status);
    expect(r.stdout.length).toBeGreaterThan(0);
  });

  it('show --json keeps the payload exact', () => {
    const r = run('show', sessionId(), '--json');
    expect(r.stdout).toContain('['.repeat(DEPTH) + '1' + ']'.repeat(DEPTH));
  });
});

describe('terminal escape sequences from the wire', () => {
  it.each([
    ['sessions', ['sessions']],
    ['show', ['show', 'SID']],
    ['search', ['search', 'tools/call']],
    ['check', ['check', 'SID']],
    ['diff', ['diff', 'SID', 'SID']],
  ])('%s prints them escaped', (_, args) => {
    const id = sessionId();
    const r = run(...args.map((a) => (a === 'SID' ? id : a)));
    expect([0, 1]).toContain(r.status);
    expect(r.stdout).not.toMatch(CONTROL);
    expect(r.stderr).not.toMatch(CONTROL);
  });

  it('show names the client and the tool with the escapes visible', () => {
    const r = run('show', sessionId());
    expect(r.stdout).toContain('evil\\x1b]0;pwned\\x07\\x1b[2J\\x1b[Hclient');
    expect(r.stdout).toContain('echo\\x1b]52;c;ZWNobyBwd25lZA==\\x07');
  });

  it('--json stays exact', () => {
    const rows = JSON.parse(run('sessions', '--json').stdout) as Array<{ clientName: string }>;
    expect(rows.map((r) => r.clientName)).toContain(EVIL_NAME);
    expect(run('show', sessionId(), '--json').stdout).toContain(JSON.stringify(EVIL_NAME).slice(1, -1));
  });
});
