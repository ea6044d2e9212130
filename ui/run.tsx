import React from 'react';
import { render } from 'ink';
import type { CaptureStore } from '../src/store/read.js';
import { App } from './App.js';

export interface TuiOptions {
  store: CaptureStore;
  sessionId?: string;
  reference?: string;
}

/** Runs the terminal UI until the user quits (q or Ctrl-C); Ink restores the terminal either way. */
export async function runTui(opts: TuiOptions): Promise<void> {
  if (!process.stdin.isTTY) throw new Error('mcptap tui needs a terminal (stdin is not a TTY)');
  const app = render(<App store={opts.store} sessionId={opts.sessionId} reference={opts.reference} />, { exitOnCtrlC: true });
  await app.waitUntilExit();
}
