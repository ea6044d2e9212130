import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { render } from 'ink-testing-library';
import { CaptureStore } from '../../src/store/read.js';
import { App } from '../../ui/App.js';
import { runChecks } from '../../src/analysis/checks/engine.js';
import { importRecording, readRecording } from '../../src/store/jsonl.js';
import { startGatewayLikeServer, startPlainToolsServer, type Peer } from '../helpers/peers.js';
import { tempDb, until } from '../helpers/tmp.js';
import { captureSession } from '../helpers/capture.js';

// The UI on sessions captured for real through the proxy, driven by key presses, read frame by frame.

const tmp = tempDb();
const peers: Peer[] = [];
let store: CaptureStore;
let direct: string;
let gateway: string;

const capture = (peer: Peer, label: string, tool: string) => captureSession(tmp.db, peer, label, async (c) => {
  await c.listTools();
  await c.callTool({ name: tool, arguments: {} }).catch(() => undefined);
  await c.callTool({ name: label === 'gateway' ? 'db_main-query' : 'query', arguments: { sql: 'select 1' } });
}, 'ui-test');

beforeAll(async () => {
  const plain = await startPlainToolsServer();
  const gw = await startGatewayLikeServer({ prefix: 'db_main-' });
  peers.push(plain, gw);
  direct = await capture(plain, 'direct', 'list_schemas');
  gateway = await capture(gw, 'gateway', 'list_schemas');
  store = CaptureStore.open(tmp.db, { readonly: true });
});

afterAll(async () => {
  store?.close();
  for (const p of peers) await p.close();
  tmp.cleanup();
});

// React subscribes a view's key handler just after the view first renders: a key written in the
// same turn as the render that mounts the view would miss it. Each key waits for the frame it
// causes (or, when a key changes nothing visible, for a settled turn).
const settle = () => new Promise((r) => setTimeout(r, 0)).then(() => new Promise((r) => setImmediate(r)));
const press = async (ui: ReturnType<typeof render>, keys: string[], expectText?: string) => {
  for (const k of keys) {
    const before = ui.lastFrame();
    ui.stdin.write(k);
    await until(() => ui.lastFrame() !== before, 'a new frame', 500).catch(() => undefined);
    await settle();
  }
  if (expectText) await until(() => (ui.lastFrame() ?? '').includes(expectText), `frame with "${expectText}"`, 3000).catch((e) => { throw new Error(`${e.message}; the frame was:\n${ui.lastFrame()}`); });
  await settle();
};

const ENTER = '\r';

/** The fix of the gateway session's unknown-tool finding, as mcptap check gives it. */
function findingsFix(): string {
  const session = store.getSession(gateway)!;
  return runChecks({ session, messages: store.messages(gateway), exchanges: store.exchanges(gateway) }).find((f) => f.ruleId === 'unknown-tool')!.fix;
}
const ESC = '\u001b';
const PGUP = '\u001b[5~';
const PGDN = '\u001b[6~';

describe('mcptap tui', () => {
  it('lists sessions, opens the timeline, filters to tools/call, and opens a message', async () => {
    const ui = render(<App store={store} />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes('gateway'), 'the sessions list');
      await settle();
      expect(ui.lastFrame()).toContain('ui-test → gateway');
      expect(ui.lastFrame()).toContain('ui-test → postgres-mcp');
      await press(ui, ['g', ENTER], `session ${direct}`);
      expect(ui.lastFrame()).toMatch(/→ request\s+initialize/);
      await press(ui, ['/', ...'method:tools/call'], 'filter: method:tools/call');
      await until(() => /\b4 of 9 messages/.test(ui.lastFrame() ?? ''), 'the filtered count').catch((e) => { throw new Error(`${e.message}:\n${ui.lastFrame()}`); });
      expect(ui.lastFrame()).not.toMatch(/→ request\s+initialize/);
      await press(ui, [ENTER, 'g', ENTER], 'client→server request tools/call list_schemas');
      expect(ui.lastFrame()).toContain('"name": "list_schemas"');
      await press(ui, ['c'], 'server→client response tools/call list_schemas');
      await press(ui, [ESC], 'filter: method:tools/call');
    } finally {
      ui.unmount();
    }
  });

  it('takes keys that arrive in one read one by one, each on the screen the key before led to', async () => {
    // A terminal that is read late (tmux send-keys, a paste, a busy machine) hands over "/method:tools/call\rg\r"
    // as one chunk. Ink passes such a run on as a single input; the UI must not type "\rg\r" into the filter.
    const ui = render(<App store={store} />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes('gateway'), 'the sessions list');
      await settle();
      ui.stdin.write(`g${ENTER}/method:tools/call${ENTER}g${ENTER}`);
      await until(() => (ui.lastFrame() ?? '').includes('client→server request tools/call list_schemas'), 'the detail of the first tools/call')
        .catch((e) => { throw new Error(`${e.message}:\n${ui.lastFrame()}`); });
      expect(ui.lastFrame()).toMatch(/^#6 → client→server request/m);
      ui.stdin.write(`${ESC}`);
      await until(() => /\b4 of 9 messages/.test(ui.lastFrame() ?? ''), 'the filtered timeline').catch((e) => { throw new Error(`${e.message}:\n${ui.lastFrame()}`); });
      expect(ui.lastFrame()).toContain(`session ${direct}`);
      expect(ui.lastFrame()).toMatch(/filter: method:tools\/call\s*\n/);
    } finally {
      ui.unmount();
    }
  });

  it('keeps every key typed into the filter in the filter: q, b, ? and the rest never reach the global keys', async () => {
    const ui = render(<App store={store} sessionId={direct} />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes(`session ${direct}`), 'the timeline');
      await settle();
      // Key by key, as a person types, and then the rest in one read, as a paste arrives.
      await press(ui, ['/', ...'tool:query'], 'filter: tool:query');
      ui.stdin.write(' bq?rdg!e');
      await until(() => (ui.lastFrame() ?? '').includes('filter: tool:query bq?rdg!e'), 'the whole text in the filter').catch((e) => { throw new Error(`${e.message}:\n${ui.lastFrame()}`); });
      expect(ui.lastFrame()).toContain(`session ${direct}`);
      expect(ui.lastFrame()).not.toContain('Keys');
      await press(ui, [...'\x7f'.repeat(' bq?rdg!e'.length)], 'filter: tool:query');
      await press(ui, [ENTER], 'filter: tool:query');
      await until(() => /\b2 of 9 messages/.test(ui.lastFrame() ?? ''), 'the filtered count').catch((e) => { throw new Error(`${e.message}:\n${ui.lastFrame()}`); });
      // Out of the field, the same keys are commands again.
      await press(ui, ['?'], 'Keys');
    } finally {
      ui.unmount();
    }
  });

  it('fits 80x24 after a resize: no wrapped header, whole tool names, the server in the list, the whole fix, Esc back in the footer', async () => {
    const ui = render(<App store={store} sessionId={gateway} />);
    const resize = (columns: number, rows: number) => {
      Object.defineProperty(ui.stdout, 'columns', { value: columns, configurable: true });
      Object.defineProperty(ui.stdout, 'rows', { value: rows, configurable: true });
      ui.stdout.emit('resize');
    };
    const fits = (w: number, h: number) => {
      const lines = (ui.lastFrame() ?? '').split('\n');
      return lines.length <= h && lines.every((l) => l.length <= w);
    };
    try {
      await until(() => (ui.lastFrame() ?? '').includes(`session ${gateway}`), 'the timeline');
      resize(120, 36);
      await until(() => fits(120, 36) && (ui.lastFrame() ?? '').includes('SIZE'), 'the 120x36 layout').catch((e) => { throw new Error(`${e.message}:\n${ui.lastFrame()}`); });
      resize(80, 24);
      await until(() => fits(80, 24) && !(ui.lastFrame() ?? '').includes('SIZE'), 'the 80x24 layout').catch((e) => { throw new Error(`${e.message}:\n${ui.lastFrame()}`); });
      await settle();
      expect(ui.lastFrame()).toMatch(/tools\/call db_main-query\s/);
      expect(ui.lastFrame()).toMatch(/Esc back · \? all keys\s*$/);
      await press(ui, ['!'], '[unknown-tool]');
      expect(fits(80, 24)).toBe(true);
      const fix = findingsFix();
      expect((ui.lastFrame() ?? '').replace(/\s+/g, ' ')).toContain(`fix: ${fix}`.replace(/\s+/g, ' '));
      await press(ui, [ESC, ESC], 'ui-test → gateway');
      expect(fits(80, 24)).toBe(true);
      expect(ui.lastFrame()).toContain('ui-test → postgres-mcp');
    } finally {
      ui.unmount();
    }
  });

  it('shows a message as it went over the wire, writes its exchange as a curl command that runs, and resends it with R', async () => {
    const editor = path.join(tmp.dir, 'keep.sh');
    fs.writeFileSync(editor, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const saved = { EDITOR: process.env.EDITOR, VISUAL: process.env.VISUAL, cwd: process.cwd() };
    process.env.EDITOR = editor;
    delete process.env.VISUAL;
    process.chdir(tmp.dir);
    const ui = render(<App store={store} sessionId={gateway} />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes(`session ${gateway}`), 'the timeline');
      await settle();
      // #2 is the answer to initialize, on the POST's event stream.
      await press(ui, ['g', 'j', ENTER], 'server→client response initialize');
      await press(ui, ['w'], 'on the wire');
      expect(ui.lastFrame()).toMatch(/SSE event on POST \/mcp \(as stored\):\n\s+event: message\n(\s+id: .*\n)?\s+data: \{"result":\{"protocolVersion"/);
      await press(ui, ['w'], '"protocolVersion"');
      await press(ui, ['C'], 'as a curl command to');
      const file = /curl command to (\S+)/.exec(ui.lastFrame() ?? '')![1];
      // Not spawnSync: the server it reaches runs in this process.
      const out = await new Promise<string>((resolve) => {
        const child = spawn('/bin/sh', [file], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        child.stdout.on('data', (c) => (text += c));
        child.on('exit', () => resolve(text));
      });
      expect(out).toContain('"protocolVersion"');
      await press(ui, ['j'], 'c jump');
      expect(ui.lastFrame()).not.toContain('curl command to');
      await press(ui, ['c'], 'client→server request initialize');
      await press(ui, ['R'], 'resent #1 as session');
      expect(ui.lastFrame()).toContain(`label "resend of ${gateway} #1"`);
    } finally {
      ui.unmount();
      process.chdir(saved.cwd);
      if (saved.EDITOR == null) delete process.env.EDITOR; else process.env.EDITOR = saved.EDITOR;
      if (saved.VISUAL != null) process.env.VISUAL = saved.VISUAL;
    }
  });

  it('shows the diff against a reference with the tool prefix and the failing call', async () => {
    const ui = render(<App store={store} sessionId={gateway} reference={direct} />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes(`session ${gateway}`), 'the timeline');
      await settle();
      await press(ui, ['d'], "tool names gained the prefix 'db_main-'");
      expect(ui.lastFrame()).toMatch(/outcome: tools\/call list_schemas: result → isError/);
      expect(ui.lastFrame()).toMatch(/A .*\(direct\).*B .*\(gateway\)/);
    } finally {
      ui.unmount();
    }
  });

  it('says which HTTP differences the diff counts', async () => {
    const mem = CaptureStore.memory('recordings/everything-sse.jsonl');
    const { session } = importRecording(mem, readRecording('recordings/everything-sse.jsonl'));
    const ui = render(<App store={mem} sessionId={session.id} reference="recordings/everything-streamable-http.jsonl" />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes(`session ${session.id}`), 'the timeline');
      await settle();
      await press(ui, ['d'], '5 HTTP differences');
      expect(ui.lastFrame()).toContain('http: GET /mcp → 200 (text/event-stream): A 1× · B 0×');
      expect(ui.lastFrame()).toContain('http: GET /sse → 200 (text/event-stream): A 0× · B 1×');
      expect(ui.lastFrame()).toContain('http: … and 3 more');
    } finally {
      ui.unmount();
      mem.close();
    }
  });

  it('lists problems, folds out what a cause explains, and jumps to the evidence', async () => {
    const ui = render(<App store={store} sessionId={gateway} />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes(`session ${gateway}`), 'the timeline');
      await settle();
      await press(ui, ['!'], '[unknown-tool]');
      expect(ui.lastFrame()).toContain('▸ +1 consequence [unknown-tool]');
      await press(ui, [ENTER], '↳ warning [tool-errors]');
      await press(ui, [ENTER], 'request tools/call list_schemas');
    } finally {
      ui.unmount();
    }
  });

  it('pages the timeline with PgDn and PgUp', async () => {
    const ui = render(<App store={store} sessionId={direct} />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes(`session ${direct}`), 'the timeline');
      await settle();
      // Nine messages fit on one page: a page down lands on the last, a page up on the first.
      await press(ui, [PGDN, ENTER], '#9 ');
      expect(ui.lastFrame()).toMatch(/^#9 ← server→client response tools\/call query/m);
      await press(ui, [ESC], `session ${direct}`);
      await press(ui, [PGUP, ENTER], '#1 ');
      expect(ui.lastFrame()).toMatch(/^#1 → client→server request initialize/m);
    } finally {
      ui.unmount();
    }
  });

  it('pages the problems with PgDn and PgUp', async () => {
    // Five calls of tools the server does not have: five findings.
    const many = await captureSession(tmp.db, peers[0], 'many-problems', async (c) => {
      await c.listTools();
      for (const name of ['nope_1', 'nope_2', 'nope_3', 'nope_4', 'nope_5']) await c.callTool({ name, arguments: {} }).catch(() => undefined);
    }, 'ui-test');
    const ui = render(<App store={store} sessionId={many} />);
    const evidence = () => /^evidence: .*$/m.exec(ui.lastFrame() ?? '')?.[0];
    try {
      await until(() => (ui.lastFrame() ?? '').includes(`session ${many}`), 'the timeline');
      await settle();
      await press(ui, ['!'], '[unknown-tool]');
      await press(ui, ['G']);
      const last = evidence();
      await press(ui, ['g']);
      const first = evidence();
      expect(last).not.toBe(first);
      // The findings fit on one page: a page down selects the last, a page up the first.
      await press(ui, [PGDN], last);
      expect(evidence()).toBe(last);
      await press(ui, [PGUP], first);
      expect(evidence()).toBe(first);
    } finally {
      ui.unmount();
    }
  });

  it('plays the session back from the first message', async () => {
    const ui = render(<App store={store} sessionId={direct} />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes(`session ${direct}`), 'the timeline');
      await settle();
      await press(ui, ['p', ' '], '▶ playback paused');
      expect(ui.lastFrame()).toMatch(/1\/9|2\/9/);
      await press(ui, ['.', '.'], 'paused');
      await press(ui, ['s', 's', 's', ' '], 'at the end');
      expect(ui.lastFrame()).toContain('max');
      expect(ui.lastFrame()).toContain('9/9');
    } finally {
      ui.unmount();
    }
  });

  it('shows every key with ?', async () => {
    const ui = render(<App store={store} />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes('gateway'), 'the sessions list');
      await settle();
      await press(ui, ['?'], 'Keys');
      expect(ui.lastFrame()).toContain('playback: start / stop');
      expect(ui.lastFrame()).toContain('diff against the reference');
    } finally {
      ui.unmount();
    }
  });
});
