import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import React from 'react';
import { render } from 'ink-testing-library';
import { CaptureStore } from '../../src/store/read.js';
import { App } from '../../ui/App.js';
import { startPlainToolsServer, type Peer } from '../helpers/peers.js';
import { tempDb, until } from '../helpers/tmp.js';
import { captureSession } from '../helpers/capture.js';

// The TUI on a session whose client name and tool name carry terminal escape sequences (an OSC window
// title, a CSI clear screen, an OSC 52 clipboard write): the frames show them escaped, never raw.

const tmp = tempDb();
let peer: Peer;
let store: CaptureStore;
const EVIL_NAME = 'evil\x1b]0;pwned\x07\x1b[2Jclient';
const EVIL_TOOL = 'q\x1b]52;c;ZWNobyBwd25lZA==\x07';

beforeAll(async () => {
  peer = await startPlainToolsServer();
  await captureSession(tmp.db, peer, 'hostile', async (c) => {
    await c.callTool({ name: EVIL_TOOL, arguments: { note: 'x\x1b[2Jy' } }).catch(() => undefined);
  }, EVIL_NAME);
  store = CaptureStore.open(tmp.db, { readonly: true });
});

afterAll(async () => {
  store?.close();
  await peer?.close();
  tmp.cleanup();
});

const settle = () => new Promise((r) => setTimeout(r, 0)).then(() => new Promise((r) => setImmediate(r)));
// Ink's own styling is CSI … m; anything else that starts with ESC came from the wire.
const FOREIGN_ESCAPE = /\x1b(?!\[[0-9;]*m)|\x07/;

describe('the TUI under hostile strings', () => {
  it('shows the client name and the tool call escaped in the sessions list, the timeline and the detail', async () => {
    const ui = render(<App store={store} />);
    try {
      await until(() => (ui.lastFrame() ?? '').includes('evil\\x1b]0;pwned'), 'the sessions list with the name escaped', 10_000);
      expect(ui.lastFrame()).not.toMatch(FOREIGN_ESCAPE);
      ui.stdin.write('\r');
      await until(() => (ui.lastFrame() ?? '').includes('tools/call'), 'the timeline', 10_000);
      await settle();
      expect(ui.lastFrame()).not.toMatch(FOREIGN_ESCAPE);
      // The first message (initialize, with the client's name in it) in the detail view.
      ui.stdin.write('\r');
      await until(() => (ui.lastFrame() ?? '').includes('client→server'), 'the detail of a message', 10_000);
      await settle();
      expect(ui.lastFrame()).not.toMatch(FOREIGN_ESCAPE);
      const frames = ui.frames.join('\n');
      expect(frames).not.toContain('\x1b]52');
      expect(frames).not.toContain('\x1b]0;');
    } finally {
      ui.unmount();
    }
  });
});
