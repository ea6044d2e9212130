import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startPlainToolsServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { captureSession } from './helpers/capture.js';
import { hasTmux, killTerms, term as termIn, tmux } from './helpers/tmux.js';

// The real `mcptap tui` in tmux, fed as a person's terminal feeds it: Backspace (DEL), a bracketed
// paste, several keys in one read, Ctrl-C; and what the terminal holds after the UI is gone.

const tmp = tempDb();
const peers: Peer[] = [];
const cli = path.resolve('dist/src/cli/main.js');
const sessions: string[] = [];
const ids: string[] = [];
const term = (name: string, width: number, height: number, command: string) => termIn(sessions, name, width, height, command);

beforeAll(async () => {
  if (!hasTmux) return;
  const plain = await startPlainToolsServer();
  peers.push(plain);
  for (const label of ['one', 'two', 'three']) {
    ids.push(await captureSession(tmp.db, plain, label, async (c) => {
      await c.listTools();
      await c.callTool({ name: 'query', arguments: { sql: 'select 1' } });
    }, 'e2e-keys'));
  }
  // The newest, selected first: a call of a tool the server does not have, an unknown-tool finding.
  ids.push(await captureSession(tmp.db, plain, 'unknown', async (c) => {
    await c.listTools();
    await c.callTool({ name: 'no_such_tool', arguments: {} }).catch(() => undefined);
  }, 'e2e-keys'));
});

afterAll(async () => {
  killTerms(sessions);
  for (const p of peers) await p.close();
  tmp.cleanup();
});

const tui = `NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${cli} tui --db`;

describe.skipIf(!hasTmux)('mcptap tui keys in a terminal', () => {
  it('marks the row g selected when G, then g r, arrive; Backspace goes back; a paste is text; Ctrl-C exits 130 and gives the screen back', { timeout: 180_000 }, async () => {
    const t = term(`mcptap-keys-${process.pid}`, 120, 36, `echo before-the-ui; ${tui} ${tmp.db}; echo "mcptap exited $?"; sleep 60`);
    await t.see('e2e-keys → postgres-mcp');
    await t.raw();
    t.keys('G');
    // One send-keys: g and r in one read.
    t.keys('g', 'r');
    await t.see(`reference: ${ids[0]}`);
    // DEL, what the Backspace key sends, goes back from the timeline.
    t.keys('Enter');
    await t.see(`session ${ids[0]}`);
    t.keys('BSpace');
    await t.see('CLIENT → SERVER');
    t.keys('Enter');
    await t.see(`session ${ids[0]}`);
    t.keys('Enter');
    await t.see('client→server request initialize');
    // A paste of prose on the detail screen: e would export, q quit; it is ignored as text.
    tmux('set-buffer', '-b', 'mcptap-paste', 'see the query');
    tmux('paste-buffer', '-p', '-b', 'mcptap-paste', '-t', sessions[0]);
    await t.see('pasted text ignored');
    expect(t.screen()).toContain('client→server request initialize');
    expect(t.screen()).not.toContain('exported');
    // Into the filter, a paste is the filter's text.
    t.keys('Escape');
    await t.see(`session ${ids[0]}`);
    t.keys('/');
    await t.see('filter: ▏');
    tmux('set-buffer', '-b', 'mcptap-paste', 'tool:query');
    tmux('paste-buffer', '-p', '-b', 'mcptap-paste', '-t', sessions[0]);
    await t.see('filter: tool:query');
    t.keys('Enter');
    t.keys('C-c');
    const after = await t.see('mcptap exited 130');
    // The alternate screen is left: the shell's line from before is back and no frame is left over it.
    expect(after).toContain('before-the-ui');
    expect(after).not.toContain('mcptap · ');
  });

  it('keeps the TRANSPORT column at 80 columns and draws a finding whole at 80×24', { timeout: 180_000 }, async () => {
    const t = term(`mcptap-keys-small-${process.pid}`, 80, 24, `${tui} ${tmp.db}; sleep 60`);
    await t.see('CLIENT → SERVER');
    expect(t.screen()).toMatch(/ TRANSPORT /);
    expect(t.screen()).not.toMatch(/ VIA /);
    await t.raw();
    t.keys('Enter');
    await t.see(`session ${ids[3]}`);
    t.keys('!');
    await t.see('[unknown-tool]');
    const lines = t.screen().split('\n');
    const evidence = lines.findIndex((l) => l.startsWith('evidence: #'));
    const fix = lines.findIndex((l) => l.startsWith('fix: '));
    expect(evidence).toBeGreaterThan(0);
    expect(fix).toBeGreaterThan(evidence);
    expect(lines.filter((l) => l.startsWith('evidence: ')).length).toBe(1);
  });
});
