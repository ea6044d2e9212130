import React from 'react';
import { render } from 'ink';
import type { CaptureStore } from '../src/store/read.js';
import { App, type AppProps } from './App.js';
import { BRACKETED_PASTE_OFF, BRACKETED_PASTE_ON } from './keypress.js';

export interface TuiOptions {
  store: CaptureStore;
  sessionId?: string;
  reference?: string;
  /** The proxy this UI runs beside (`proxy --ui`): shown in the header, and how to point a client at it. */
  proxy?: AppProps['proxy'];
  /** Lines the proxy has for the user while the UI is on screen (live findings, warnings). */
  notices?: AppProps['notices'];
  /** `--hold`: the messages held for the user to decide. */
  interceptor?: AppProps['interceptor'];
}

// The alternate screen keeps the user's scrollback as it was: on exit the shell's lines come back
// and no frame of the UI is left over them.
const ALT_SCREEN_ON = '\u001b[?1049h';
const ALT_SCREEN_OFF = '\u001b[?1049l';

/**
 * Runs the terminal UI until the user quits; resolves to the exit code: 0 for q, 130 for Ctrl-C (as
 * every other command interrupted by Ctrl-C). The terminal is restored either way, a crash included.
 */
export async function runTui(opts: TuiOptions): Promise<number> {
  if (!process.stdin.isTTY) throw new Error('mcptap tui needs a terminal (stdin is not a TTY)');
  const restore = () => process.stdout.write(BRACKETED_PASTE_OFF + ALT_SCREEN_OFF);
  process.stdout.write(ALT_SCREEN_ON + BRACKETED_PASTE_ON);
  process.once('exit', restore);
  let interrupted = false;
  try {
    const app = render(<App store={opts.store} sessionId={opts.sessionId} reference={opts.reference} proxy={opts.proxy} notices={opts.notices} interceptor={opts.interceptor} onInterrupt={() => (interrupted = true)} />, { exitOnCtrlC: false });
    await app.waitUntilExit();
  } finally {
    process.removeListener('exit', restore);
    restore();
  }
  return interrupted ? 130 : 0;
}
