import { execFileSync, spawnSync } from 'node:child_process';
import { until } from './tmp.js';

export const hasTmux = spawnSync('tmux', ['-V']).status === 0;
export const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });

/** A tmux session running `command`, its name pushed onto `sessions` (kill them in afterAll); `see` waits for text on its screen. */
export function term(sessions: string[], name: string, width: number, height: number, command: string) {
  sessions.push(name);
  tmux('new-session', '-d', '-s', name, '-x', String(width), '-y', String(height), command);
  const screen = () => tmux('capture-pane', '-p', '-t', name);
  return {
    screen,
    /** The screen with its colours (SGR sequences). */
    coloured: () => tmux('capture-pane', '-p', '-e', '-t', name),
    keys: (...k: string[]) => tmux('send-keys', '-t', name, ...k),
    see: (text: string | RegExp) => until(() => (typeof text === 'string' ? screen().includes(text) : text.test(screen())), `the screen to show ${text}`, 60_000)
      .then(screen, (e) => { throw new Error(`${e.message}; the screen was:\n${screen()}`); }),
    /** Ink switches to raw mode after its first frame; a key sent before is read in cooked mode and lost. */
    raw: async () => {
      const tty = tmux('display-message', '-p', '-t', name, '#{pane_tty}').trim();
      await until(() => /(^|\s)-icanon(\s|$)/.test(execFileSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' })), 'raw mode', 60_000);
    },
  };
}

/** Kills the tmux sessions a test started. */
export function killTerms(sessions: string[]): void {
  for (const s of sessions) spawnSync('tmux', ['kill-session', '-t', s]);
}
