/**
 * Text from the wire shown on a terminal. A peer controls client and tool names, log lines and results,
 * and a terminal acts on control characters: an OSC sequence sets the window title or writes the
 * clipboard (OSC 52), CSI clears the screen or moves the cursor, and bidi overrides reorder what is read.
 * Every such character is shown as an escape (`\x1b`, `\u202e`) instead; newline and tab stay.
 * `--json` output does not go through here: JSON escapes control characters itself and stays exact.
 */
// C0 but tab and newline, DEL, C1, and the Unicode bidi controls.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escapeOne(ch: string): string {
  const c = ch.charCodeAt(0);
  return c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

export function terminalSafe(text: string): string {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text) ? text.replace(CONTROL, escapeOne) : text;
}

/** The same for one line of a table: a newline or tab from the wire would break the row, so it is escaped too. */
export function terminalLine(text: string): string {
  return terminalSafe(text).replace(/[\n\t]/g, escapeOne);
}
