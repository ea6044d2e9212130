import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { render } from 'ink-testing-library';
import Database from 'better-sqlite3';
import { CaptureStore } from '../../src/store/read.js';
import { startProxy } from '../../src/proxy/server.js';
import { App } from '../../ui/App.js';
import { connectClient, startPlainToolsServer, startSseServer, type Peer } from '../helpers/peers.js';
import { tempDb, until } from '../helpers/tmp.js';
import { captureSession } from '../helpers/capture.js';

// The keypress layer as a person's terminal feeds it: Backspace as DEL, bracketed pastes, keys that
// arrive in one read; and the screens that must not move under the user while a proxy writes.

const tmp = tempDb();
const peers: Peer[] = [];
let store: CaptureStore;
const ids: Record<string, string> = {};

const ENTER = '\r';
const ESC = '\u001b';
const DEL = '\x7f';
const paste = (text: string) => `\u001b[200~${text}\u001b[201~`;

beforeAll(async () => {
  const plain = await startPlainToolsServer();
  const sse = await startSseServer();
  peers.push(plain, sse);
  for (const label of ['doomed', 'first', 'second', 'third']) {
    ids[label] = await captureSession(tmp.db, plain, label, async (c) => {
      await c.listTools();
      await c.callTool({ name: 'query', arguments: { sql: 'select 1' } });
    }, 'keys-test');
  }
  // A Streamable HTTP client pointed at a legacy SSE server's /sse: the finding's evidence is the
  // POST exchange the server refused, not a message.
  const proxy = await startProxy({ target: sse.url, port: 0, db: tmp.db, label: 'mismatch', onWarning: () => {} });
  try {
    await connectClient('streamable-http', proxy.url + '/sse', { name: 'keys-test' }).then((c) => c.close(), () => undefined);
  } finally {
    await proxy.close();
  }
  store = CaptureStore.open(tmp.db, { readonly: true });
  ids.mismatch = store.listSessions().find((s) => s.label === 'mismatch')!.id;
});

afterAll(async () => {
  store?.close();
  for (const p of peers) await p.close();
  tmp.cleanup();
});

const frame = (ui: ReturnType<typeof render>) => ui.lastFrame() ?? '';
const see = (ui: ReturnType<typeof render>, text: string | RegExp) =>
  until(() => (typeof text === 'string' ? frame(ui).includes(text) : text.test(frame(ui))), `a frame with ${text}`, 5000)
    .catch((e) => { throw new Error(`${e.message}; the frame was:\n${frame(ui)}`); });
/** Waits until `ui` has handled every key written so far: a key that changes nothing makes no frame. */
const settled = () => new Promise((r) => setTimeout(r, 50));

describe('the keypress layer', () => {
  it('takes DEL, what terminals send for Backspace, as back, and as erase in the filter', async () => {
    const ui = render(<App store={store} sessionId={ids.first} />);
    try {
      await see(ui, `session ${ids.first}`);
      await settled();
      ui.stdin.write('/');
      await see(ui, 'filter: ▏');
      ui.stdin.write('tool:queryX');
      await see(ui, 'filter: tool:queryX');
      ui.stdin.write(DEL);
      await see(ui, /filter: tool:query▏/);
      ui.stdin.write(ENTER);
      await settled();
      ui.stdin.write(DEL);
      await see(ui, 'CLIENT → SERVER');
    } finally {
      ui.unmount();
    }
  });

  it('treats a bracketed paste as text: into the open filter, and ignored (never run as keys) elsewhere', async () => {
    const ui = render(<App store={store} sessionId={ids.first} />);
    try {
      await see(ui, `session ${ids.first}`);
      await settled();
      ui.stdin.write(ENTER);
      await see(ui, 'client→server request initialize');
      // "see the query": e exports, q quits, ? helps; as a paste, none of it is a command.
      ui.stdin.write(paste('see the query?'));
      await see(ui, 'pasted text ignored');
      expect(frame(ui)).not.toContain('exported');
      expect(frame(ui)).toContain('client→server request initialize');
      ui.stdin.write(ESC);
      await see(ui, `session ${ids.first}`);
      await settled();
      ui.stdin.write('/');
      await see(ui, 'filter: ▏');
      ui.stdin.write(paste('tool:query\n'));
      await see(ui, 'filter: tool:query');
      expect(frame(ui)).toContain(`session ${ids.first}`);
    } finally {
      ui.unmount();
    }
  });

  it('applies the keys of one read in order, each on the state the one before left: G, then g r marks the first session', async () => {
    const ui = render(<App store={store} />);
    try {
      await see(ui, 'keys-test');
      await settled();
      ui.stdin.write('G');
      await settled();
      ui.stdin.write('gr');
      const first = store.listSessions()[0].id;
      await see(ui, `reference: ${first}`);
    } finally {
      ui.unmount();
    }
  });

  it('names every key in the help, with no raw key token', async () => {
    const ui = render(<App store={store} />);
    try {
      await see(ui, 'keys-test');
      await settled();
      ui.stdin.write('?');
      await see(ui, 'Keys');
      expect(frame(ui)).toContain('Tab / n');
      expect(frame(ui)).not.toMatch(/@\w/);
    } finally {
      ui.unmount();
    }
  });
});

describe('the open session', () => {
  it('stays the one the user opened when another process prunes a session listed before it', async () => {
    const writer = CaptureStore.open(tmp.db);
    const reads = vi.spyOn(store, 'listSessions');
    const ui = render(<App store={store} />);
    try {
      await see(ui, 'keys-test');
      await settled();
      // The list: doomed, first, second, third, mismatch (oldest first); open "second". One read: the keys
      // apply in order, each against the state the one before left (a wait between them is no synchronisation).
      ui.stdin.write(`gjj${ENTER}`);
      await see(ui, `session ${ids.second}`);
      writer.deleteSessions([ids.doomed]);
      // The UI polls the database's version, and re-reads the list without the pruned session.
      await until(() => reads.mock.results.some((r) => (r.value as unknown[]).length === 4), 'the UI to re-read the list');
      await settled();
      expect(frame(ui)).toContain(`session ${ids.second}`);
      ui.stdin.write(ESC);
      await see(ui, 'CLIENT → SERVER');
      // Back in the list, the selection is still on the session that was open.
      ui.stdin.write(ENTER);
      await see(ui, `session ${ids.second}`);
    } finally {
      ui.unmount();
      reads.mockRestore();
      writer.close();
    }
  });
});

describe('the problems screen', () => {
  it('opens the exchange of a finding whose evidence is an exchange only', async () => {
    const ui = render(<App store={store} sessionId={ids.mismatch} />);
    try {
      await see(ui, `session ${ids.mismatch}`);
      await settled();
      ui.stdin.write('!');
      await see(ui, '[transport-mismatch]');
      expect(frame(ui)).toMatch(/evidence: exchange \w+/);
      // The first Enter folds out what the cause explains, the second opens the cause's evidence.
      if (frame(ui).includes('▸ +')) {
        ui.stdin.write(ENTER);
        await see(ui, '▾ +');
      }
      ui.stdin.write(ENTER);
      await see(ui, 'client→server request initialize');
    } finally {
      ui.unmount();
    }
  });

  it('draws the evidence, explanation and fix on their own lines at 80×24', async () => {
    const ui = render(<App store={store} sessionId={ids.mismatch} />);
    Object.defineProperty(ui.stdout, 'columns', { value: 80, configurable: true });
    Object.defineProperty(ui.stdout, 'rows', { value: 24, configurable: true });
    ui.stdout.emit('resize');
    try {
      await see(ui, `session ${ids.mismatch}`);
      await settled();
      ui.stdin.write('!');
      await see(ui, '[transport-mismatch]');
      const lines = frame(ui).split('\n');
      const evidence = lines.findIndex((l) => l.startsWith('evidence: '));
      const fix = lines.findIndex((l) => l.startsWith('fix: '));
      expect(evidence).toBeGreaterThan(0);
      expect(fix).toBeGreaterThan(evidence);
      expect(lines.length).toBeLessThanOrEqual(24);
    } finally {
      ui.unmount();
    }
  });

  it('runs the checks once per change of the session, not on every commit of other sessions', async () => {
    const writer = new Database(tmp.db);
    const spy = vi.spyOn(store, 'iterateMessages');
    const reads = vi.spyOn(store, 'listSessions');
    const ui = render(<App store={store} sessionId={ids.third} />);
    try {
      await see(ui, `session ${ids.third}`);
      await settled();
      ui.stdin.write('!');
      await see(ui, /problems|No problems/);
      await settled();
      const runs = () => spy.mock.calls.filter(([id]) => id === ids.third).length;
      const before = runs();
      // Another session's commits move the data version three times; each time the UI re-reads the list.
      for (let i = 0; i < 3; i++) {
        const n = reads.mock.calls.length;
        writer.prepare(`UPDATE sessions SET label = ? WHERE id = ?`).run(`first-${i}`, ids.first);
        await until(() => reads.mock.calls.length > n, 'the UI to see the commit');
        await settled();
      }
      expect(runs()).toBe(before);
    } finally {
      ui.unmount();
      spy.mockRestore();
      reads.mockRestore();
      writer.close();
    }
  });
});
