import React from 'react';
import { render } from 'ink';
import type { CaptureStore } from '../src/store/read.js';
import { App, type AppProps } from './App.js';

export interface TuiOptions {
  store: CaptureStore;
  sessionId?: string;
  reference?: string;
  /** The proxy this UI runs beside (`proxy --ui`): shown in the header, and how to point a client at it. */
  proxy?: AppProps['proxy'];
  /** Lines the proxy has for the user while the UI is on screen (live findings, warnings). */
  notices?: AppProps['notices'];
}

/** Runs the terminal UI until the user quits (q or Ctrl-C); Ink restores the terminal either way. */
export async function runTui(opts: TuiOptions): Promise<void> {
  if (!process.stdin.isTTY) throw new Error('mcptap tui needs a terminal (stdin is not a TTY)');
  const app = render(<App store={opts.store} sessionId={opts.sessionId} reference={opts.reference} proxy={opts.proxy} notices={opts.notices} />, { exitOnCtrlC: true });
  await app.waitUntilExit();
}
