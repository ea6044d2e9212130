import http from 'node:http';
import React from 'react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import { App } from '../ui/App.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { listen } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';
import { playRun2026, readRun, replayHandler2026 } from './helpers/claude-fixtures.js';

// The TUI on a real Claude Code run against a 2026-07-28 server (echo-2026, played through the proxy as bytes):
// the peers and revision named from _meta, the session said to be stateless, the caching hints in the detail view.

const tmp = tempDb();
let store: CaptureStore;
let id: string;

beforeAll(async () => {
  const l = await listen(http.createServer(replayHandler2026(readRun('echo-2026', 'model'), readRun('echo-2026', 'mcp'))));
  const p = await startProxy({ target: `http://127.0.0.1:${l.port}`, port: 0, db: tmp.db, label: 'echo-2026', onWarning: () => {} });
  await playRun2026(p.url, 'echo-2026');
  await p.close();
  await l.close();
  store = CaptureStore.open(tmp.db, { readonly: true });
  id = store.listSessions({}).find((s) => s.transport === 'streamable-http')!.id;
}, 60_000);
afterAll(() => {
  store?.close();
  tmp.cleanup();
});

const settle = () => new Promise((r) => setTimeout(r, 0)).then(() => new Promise((r) => setImmediate(r)));
const frame = (ui: ReturnType<typeof render>, text: string) =>
  until(() => (ui.lastFrame() ?? '').includes(text), `frame with "${text}"`, 5000).catch((e) => { throw new Error(`${e.message}; the frame was:\n${ui.lastFrame()}`); });

describe('the TUI on a 2026-07-28 session', () => {
  it('lists claude-code → v2srv, the timeline says stateless and protocol 2026-07-28, the discover answer its caching hints', async () => {
    const list = render(<App store={store} />);
    try {
      await frame(list, 'claude-code → v2srv');
    } finally {
      list.unmount();
    }
    const ui = render(<App store={store} sessionId={id} />);
    try {
      await frame(ui, 'streamable-http (stateless) · claude-code → v2srv · protocol');
      await settle();
      for (const k of ['g', 'j', '\r']) {
        ui.stdin.write(k);
        await settle();
      }
      await frame(ui, 'server→client response server/discover');
      await frame(ui, '── caching: stale at once (ttlMs 0); private: this caller only, never a shared cache');
    } finally {
      ui.unmount();
    }
  });
});
