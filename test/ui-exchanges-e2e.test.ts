import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { Peer } from './helpers/peers.js';
import { threeSessions } from './helpers/failed-sse.js';
import { tempDb } from './helpers/tmp.js';
import { hasTmux, killTerms, term } from './helpers/tmux.js';
import { CaptureStore } from '../src/store/read.js';

// The real `mcptap tui` in tmux at 120x36 and 80x24, on the seed's failed attempt captured through the proxy:
// `--transport sse` at a Streamable HTTP endpoint, whose GET the server refuses (405) or leaves open without an
// endpoint event. The list marks those sessions ERR 1 and red, the healthy one (its probe refused) ERR 0; each
// failed session's timeline is its exchange, a row that opens.

const tmp = tempDb();
const peers: Peer[] = [];
const terms: string[] = [];
const cli = path.resolve('dist/src/cli/main.js');
const ids: Record<string, string> = {};

beforeAll(async () => {
  if (!hasTmux) return;
  peers.push(...(await threeSessions(tmp.db)));
  const store = CaptureStore.open(tmp.db, { readonly: true });
  for (const s of store.listSessions()) ids[s.label!] = s.id;
  store.close();
});

afterAll(async () => {
  killTerms(terms);
  for (const p of peers) await p.close();
  tmp.cleanup();
});

const line = (screen: string, text: string) => screen.split('\n').find((l) => l.includes(text)) ?? '';
/**
 * The foreground colour `text` is drawn in on a screen captured with its SGR sequences (tmux carries a colour
 * over from one line to the next, so the state is read from the top).
 */
function foreground(coloured: string, text: string): number | null {
  const at = coloured.indexOf(text);
  if (at < 0) throw new Error(`${text} is not on the screen`);
  let fg: number | null = null;
  for (const m of coloured.slice(0, at).matchAll(/\u001b\[([\d;]*)m/g)) {
    for (const p of (m[1] || '0').split(';').map(Number)) {
      if (p === 0 || p === 39) fg = null;
      else if ((p >= 30 && p <= 37) || (p >= 90 && p <= 97)) fg = p;
    }
  }
  return fg;
}
const red = (coloured: string, id: string) => foreground(coloured, id) === 31;

describe.skipIf(!hasTmux)('sessions without messages in a terminal', () => {
  for (const [width, height] of [[120, 36], [80, 24]]) {
    it(`${width}x${height}: ERR and its red as check counts, the failed GET a row of the timeline that opens`, { timeout: 120_000 }, async () => {
      const t = term(terms, `mcptap-v21-${process.pid}-${width}`, width, height, `TERM=xterm-256color FORCE_COLOR=1 ${process.execPath} ${cli} tui --db ${tmp.db}; sleep 30`);
      // ERR is the column before AGE; a row's count may come a moment after the row (checks have a time budget per render).
      await t.see(new RegExp(`${ids.healthy}.*\\s0\\s+\\d+[smhd]\\s*$`, 'm'));
      for (const which of ['refused', 'hanging']) await t.see(new RegExp(`${ids[which]}.*\\s1\\s+\\d+[smhd]\\s*$`, 'm'));
      await t.raw();
      const coloured = t.coloured();
      expect(red(coloured, ids.healthy)).toBe(false);
      expect(red(coloured, ids.refused)).toBe(true);
      expect(red(coloured, ids.hanging)).toBe(true);
      // The newest, the hanging GET: open it.
      t.keys('Enter');
      let screen = await t.see('none carried JSON-RPC');
      expect(screen).toContain(`session ${ids.hanging} · no messages · 1 HTTP exchange`);
      expect(line(screen, 'GET')).toMatch(/^\+\d+ms\s+GET\s+\/mcp\s+200\s+\d+ms\s+the SSE stream \/mcp/);
      t.keys('Enter');
      screen = await t.see('── HTTP exchange');
      expect(screen).toContain('── mcptap check: ERROR [transport-mismatch]');
      expect(screen).toMatch(/GET \/mcp → 200 {2}\(client went away\)/);
      // Back to the list, up to the refused one, open it.
      t.keys('Escape');
      await t.see('none carried JSON-RPC');
      t.keys('Escape');
      await t.see('CLIENT → SERVER');
      t.keys('k', 'Enter');
      screen = await t.see(`session ${ids.refused}`);
      expect(line(screen, 'GET')).toMatch(/^\+\d+ms\s+GET\s+\/mcp\s+405\s+\d+ms\s+GET \/mcp answered 405/);
      t.keys('Enter');
      screen = await t.see('── HTTP exchange');
      expect(screen).toContain('GET /mcp → 405');
      expect(screen.split('\n').every((l) => l.length <= width)).toBe(true);
      t.keys('q');
    });
  }
});
