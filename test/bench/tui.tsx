import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import React from 'react';
import { render } from 'ink-testing-library';
import type { RpcMessage, Session } from '../../src/model/model.js';
import { openDatabase } from '../../src/store/db.js';
import { CaptureStore } from '../../src/store/read.js';
import { MESSAGE_COLUMNS, SESSION_COLUMNS, messageToRow, sessionToRow } from '../../src/store/rows.js';
import { App } from '../../ui/App.js';

// The UI on a 100,000-message session: time to the first screen of its timeline, and per key press
// (down, page down, to the end, a filter keystroke) until the frame changes.

function prng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

export function makeDb(file: string, n: number): string {
  const db = openDatabase(file, { create: true });
  const rand = prng(7);
  const session: Session = {
    id: 'b1e1c2d3e4f5', label: 'bench', transport: 'streamable-http', target: 'http://127.0.0.1:4000', mcpSessionId: 'x', protocolVersion: '2025-11-25',
    clientInfo: { name: 'claude-code' }, serverInfo: { name: 'gateway' }, clientCapabilities: {}, serverCapabilities: {},
    startedAt: 1_700_000_000_000, endedAt: 1_700_000_000_000 + n, endReason: 'delete', messageCount: n, errorCount: 0, exchangeCount: 0,
  };
  const ins = db.prepare(`INSERT INTO messages (${MESSAGE_COLUMNS.join(',')}) VALUES (${MESSAGE_COLUMNS.map((c) => '@' + c).join(',')})`);
  db.prepare(`INSERT INTO sessions (${SESSION_COLUMNS.join(',')}) VALUES (${SESSION_COLUMNS.map((c) => '@' + c).join(',')})`).run(sessionToRow(session));
  const tools = ['query', 'list_schemas', 'describe_table', 'explain'];
  db.transaction(() => {
    for (let seq = 1; seq <= n; seq += 2) {
      const id = (seq + 1) / 2;
      const tool = tools[Math.floor(rand() * tools.length)];
      const req: RpcMessage = {
        sessionId: session.id, seq, exchangeId: null, ts: session.startedAt + seq, direction: 'client->server', channel: 'request-body', kind: 'request', rpcId: id,
        method: 'tools/call', subject: tool, payload: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: { sql: `select ${id}` } } }),
        truncated: false, size: 90, correlatedSeq: seq + 1, latencyMs: rand() * 900, sseEventId: null, batchIndex: null, isError: false, errorCode: null, decodeError: null,
      };
      const failed = rand() < 0.02;
      ins.run(messageToRow(req));
      ins.run(messageToRow({ ...req, seq: seq + 1, direction: 'server->client', channel: 'response-sse', kind: 'response', correlatedSeq: seq, isError: failed,
        payload: JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: failed ? 'relation does not exist' : `row ${id}` }], ...(failed ? { isError: true } : {}) } }) }));
    }
  })();
  db.close();
  return session.id;
}

async function frameAfter(ui: ReturnType<typeof render>, key: string, until: (f: string) => boolean): Promise<number> {
  const t0 = performance.now();
  ui.stdin.write(key);
  for (;;) {
    if (until(ui.lastFrame() ?? '')) return performance.now() - t0;
    if (performance.now() - t0 > 5000) throw new Error(`no frame after ${JSON.stringify(key)}`);
    await new Promise((r) => setImmediate(r));
  }
}

export async function benchTui(n = 100_000): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-'));
  const file = path.join(dir, 'tui.db');
  const id = makeDb(file, n);
  const store = CaptureStore.open(file, { readonly: true });
  try {
    const t0 = performance.now();
    const ui = render(<App store={store} sessionId={id} />);
    for (;;) {
      if ((ui.lastFrame() ?? '').includes('tools/call')) break;
      await new Promise((r) => setImmediate(r));
    }
    const first = performance.now() - t0;
    // Ink subscribes to stdin just after the first render; keys before that would be lost.
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setImmediate(r));
    const keys: number[] = [];
    let frame = ui.lastFrame();
    // Keys that move the visible window (a moved highlight alone is invisible without colours).
    keys.push(await frameAfter(ui, 'G', (f) => f.includes(String(n).padStart(6))));
    for (let i = 0; i < 20; i++) {
      frame = ui.lastFrame();
      keys.push(await frameAfter(ui, 'u', (f) => f !== frame));
    }
    frame = ui.lastFrame();
    keys.push(await frameAfter(ui, 'g', (f) => f !== frame));
    const filterKey = await frameAfter(ui, '/', (f) => f.includes('filter: ▏'));
    const filtered = await frameAfter(ui, 'x', (f) => f.includes(`of ${n} messages`) || f.includes('0 of'));
    const second = await frameAfter(ui, '1', (f) => /\d+ of \d+ messages/.test(f) && !f.includes('filter: x▏'));
    ui.unmount();
    keys.sort((a, b) => a - b);
    return {
      messages: n,
      'first screen ms': Math.round(first),
      'key p50 ms': Math.round(keys[Math.floor(keys.length / 2)] * 10) / 10,
      'key max ms': Math.round(keys[keys.length - 1] * 10) / 10,
      'first filter keystroke over 100k ms': Math.round(filtered),
      'next filter keystroke ms': Math.round(second),
      'open filter ms': Math.round(filterKey),
    };
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
