import type { Key } from 'ink';

/** One keypress as the app handles it, or a whole bracketed paste (text, never commands). */
export interface Keypress {
  input: string;
  key: Key;
  paste?: boolean;
}

// The markers a terminal puts around pasted text once bracketed paste is on (ESC[?2004h); Ink
// strips the ESC and hands each marker over as its own input.
const PASTE_START = '[200~';
const PASTE_END = '[201~';
export const BRACKETED_PASTE_ON = '\u001b[?2004h';
export const BRACKETED_PASTE_OFF = '\u001b[?2004l';

const blank = (key: Key) => Object.fromEntries(Object.entries(key).map(([k, v]) => [k, typeof v === 'boolean' ? false : v])) as unknown as Key;

/**
 * Ink hands over a run of characters that arrived in one read as one input: "\rg\r" when keys are
 * typed (or sent by tmux) faster than the app reads them. Every key of this UI is one character, so
 * such a run is split back into the keypresses Ink would have given one by one.
 */
function split(input: string, key: Key): Keypress[] {
  if (input.length <= 1 || key.ctrl || key.meta || input.includes('\u001b')) return [{ input, key: backspaceOf(key) }];
  const none = blank(key);
  return [...input].map((c): Keypress => {
    if (c === '\r' || c === '\n') return { input: '', key: { ...none, return: true } };
    if (c === '\t') return { input: '', key: { ...none, tab: true } };
    if (c === '\b' || c === '\x7f') return { input: '', key: { ...none, backspace: true } };
    if (c < ' ') return { input: String.fromCharCode(c.charCodeAt(0) + 96), key: { ...none, ctrl: true } };
    return { input: c, key: /^[A-Z]$/.test(c) ? { ...none, shift: true } : none };
  });
}

/**
 * Terminals send DEL (0x7f) for the Backspace key, which Ink 6 names `delete`: both are backspace
 * here, as in gemini-cli's KeypressContext (the Delete key, ESC[3~, erases too in a one-line field).
 */
function backspaceOf(key: Key): Key {
  return key.delete ? { ...key, delete: false, backspace: true } : key;
}

/**
 * The one keypress layer between Ink and the app: a reader that turns each of Ink's inputs into the
 * keypresses it holds, in order, and gathers a bracketed paste (which may come in several reads)
 * into one paste.
 */
export function keypressReader(): (input: string, key: Key) => Keypress[] {
  let pasting: string | null = null;
  return (input, key) => {
    if (input === PASTE_START && pasting == null) {
      pasting = '';
      return [];
    }
    if (pasting != null) {
      if (input === PASTE_END) {
        const text = pasting;
        pasting = null;
        return text ? [{ input: text, key: blank(key), paste: true }] : [];
      }
      // Inside a paste a newline or tab is text; Ink names it as a key with no input.
      pasting += input || (key.return ? '\n' : key.tab ? '\t' : '');
      return [];
    }
    return split(input, key);
  };
}
