import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import { CaptureStore } from '../../src/store/read.js';
import { App } from '../../ui/App.js';
import { checkStored, errorCauses } from '../../src/analysis/checks/error-count.js';
import type { Peer } from '../helpers/peers.js';
import { threeSessions } from '../helpers/failed-sse.js';
import { tempDb, until } from '../helpers/tmp.js';

// The sessions list's ERR is check's count, and a session with no JSON-RPC message (the seed's `--transport sse`
// at a Streamable HTTP endpoint: its GET refused, or left open with no endpoint event) shows its exchanges as
// its timeline, each opening to its detail. Real SDK servers through the proxy.

const tmp = tempDb();
const peers: Peer[] = [];
let store: CaptureStore;
const ids = { healthy: '', refused: '', hanging: '' };

beforeAll(async () => {
  peers.push(...(await threeSessions(tmp.db)));
  store = CaptureStore.open(tmp.db, { readonly: true });
  for (const s of store.listSessions()) ids[s.label as keyof typeof ids] = s.id;
});

afterAll(async () => {
  store?.close();
  for (const p of peers) await p.close();
  tmp.cleanup();
});

const settle = () => new Promise((r) => setTimeout(r, 0)).then(() => new Promise((r) => setImmediate(r)));
async function see(ui: ReturnType<typeof render>, text: string | RegExp): Promise<string> {
  const has = () => (typeof text === 'string' ? (ui.lastFrame() ?? '').includes(text) : text.test(ui.lastFrame() ?? ''));
  await until(has, `a frame with ${text}`, 10_000).catch((e) => { throw new Error(`${e.message}; the frame was:\n${ui.lastFrame()}`); });
  await settle();
  return ui.lastFrame() ?? '';
}
const row = (frame: string, id: string) => frame.split('\n').find((l) => l.includes(id)) ?? '';
const ENTER = '\r';
const ESC = '\u001b';

describe('sessions without messages, and ERR', () => {
  it("lists ERR as check counts it: the refused probe is no error, each failed attempt's transport mismatch is one", async () => {
    const ui = render(<App store={store} />);
    try {
      const want = Object.entries(ids).map(([label, id]) => ({ label, id, err: errorCauses(checkStored(store, store.getSession(id)!)) }));
      expect(want.map((w) => [w.label, w.err])).toEqual(Object.keys(ids).map((label) => [label, label === 'healthy' ? 0 : 1]));
      // ERR is the column before AGE; a row's count may come a turn after the row (checks have a time budget per render).
      const shown = (w: (typeof want)[number]) => new RegExp(`\\s${w.err}\\s+\\d+[smhd]\\s*$`).test(row(ui.lastFrame() ?? '', w.id));
      await until(() => want.every(shown), 'every ERR', 10_000).catch((e) => { throw new Error(`${e.message}; the frame was:\n${ui.lastFrame()}`); });
    } finally {
      ui.unmount();
    }
  });

  for (const which of ['refused', 'hanging'] as const) {
    it(`shows the ${which} GET as a row of the timeline, opens it, and its finding in problems opens it too`, async () => {
      const ui = render(<App store={store} sessionId={ids[which]} />);
      try {
        const frame = await see(ui, 'none carried JSON-RPC');
        expect(frame).toContain(`session ${ids[which]} · no messages · 1 HTTP exchange`);
        expect(frame).toMatch(/TIME\s+METHOD\s+URL\s+STATUS\s+TOOK\s+FAILURE/);
        const line = frame.split('\n').find((l) => /\bGET\s+\/mcp\b/.test(l))!;
        expect(line).toMatch(which === 'refused' ? /GET\s+\/mcp\s+405\s+\d[\d.]*m?s\s+GET \/mcp answered 405: this is/ : /GET\s+\/mcp\s+200\s+\d[\d.]*m?s\s+the SSE stream \/mcp never sent/);
        expect(frame).toContain('Enter open');
        ui.stdin.write(ENTER);
        const detail = await see(ui, '── HTTP exchange');
        expect(detail).toContain('── mcptap check: ERROR [transport-mismatch]');
        expect(detail).toMatch(which === 'refused' ? /GET \/mcp → 405/ : /GET \/mcp → 200 {2}\(client went away\)/);
        expect(detail).toContain('request headers:');
        ui.stdin.write(ESC);
        await see(ui, 'none carried JSON-RPC');
        ui.stdin.write('!');
        await see(ui, '[transport-mismatch]');
        ui.stdin.write(ENTER);
        await see(ui, '── HTTP exchange');
      } finally {
        ui.unmount();
      }
    });
  }
});
