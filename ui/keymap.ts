import type { Key } from 'ink';

export type Screen = 'sessions' | 'timeline' | 'exchanges' | 'detail' | 'exchange' | 'diff' | 'problems' | 'inflight' | 'held' | 'help';

export type Action =
  | 'up' | 'down' | 'pageUp' | 'pageDown' | 'top' | 'bottom' | 'open' | 'back' | 'quit' | 'help'
  | 'filter' | 'follow' | 'play' | 'pause' | 'stepBack' | 'stepForward' | 'speed'
  | 'diff' | 'problems' | 'inflight' | 'correlated' | 'yank' | 'export' | 'reference' | 'resend' | 'raw' | 'curl' | 'nextUse'
  | 'held' | 'forward' | 'editHeld' | 'answerHeld' | 'drop';

interface Binding {
  /** Printable keys, or names of Ink's special keys prefixed with '@' (e.g. '@upArrow'). */
  keys: string[];
  action: Action;
  screens: Screen[] | 'all';
  help: string;
}

// Every key binding of the UI, in one place; `?` renders this table.
export const BINDINGS: Binding[] = [
  { keys: ['@upArrow', 'k'], action: 'up', screens: 'all', help: 'move up' },
  { keys: ['@downArrow', 'j'], action: 'down', screens: 'all', help: 'move down' },
  { keys: ['@pageUp', 'u'], action: 'pageUp', screens: 'all', help: 'page up' },
  { keys: ['@pageDown'], action: 'pageDown', screens: 'all', help: 'page down' },
  // Space pages too, except on the timeline, where it pauses playback.
  { keys: [' '], action: 'pageDown', screens: ['sessions', 'detail', 'exchange', 'diff', 'problems'], help: 'page down' },
  { keys: ['g'], action: 'top', screens: 'all', help: 'first' },
  { keys: ['G'], action: 'bottom', screens: 'all', help: 'last' },
  { keys: ['@return'], action: 'open', screens: ['sessions', 'timeline', 'exchanges', 'problems', 'diff', 'inflight'], help: 'open' },
  { keys: ['@escape', 'b', '@backspace'], action: 'back', screens: 'all', help: 'back' },
  { keys: ['q'], action: 'quit', screens: 'all', help: 'quit' },
  { keys: ['?'], action: 'help', screens: 'all', help: 'all keys' },
  { keys: ['/'], action: 'filter', screens: ['timeline'], help: 'filter (method:… tool:… dir:c2s kind:error status:>=400 latency:>500ms text !negate)' },
  { keys: ['f'], action: 'follow', screens: ['timeline'], help: 'follow the newest message' },
  { keys: ['p'], action: 'play', screens: ['timeline'], help: 'playback: start / stop' },
  { keys: [' '], action: 'pause', screens: ['timeline'], help: 'playback: pause / resume' },
  { keys: [',', '@leftArrow'], action: 'stepBack', screens: ['timeline'], help: 'playback: step back' },
  { keys: ['.', '@rightArrow'], action: 'stepForward', screens: ['timeline'], help: 'playback: step forward' },
  { keys: ['s'], action: 'speed', screens: ['timeline'], help: 'playback: speed 1× / 4× / 16× / max' },
  { keys: ['d'], action: 'diff', screens: ['sessions', 'timeline', 'exchanges'], help: 'diff against the reference session' },
  { keys: ['r'], action: 'reference', screens: ['sessions'], help: 'mark the selected session as the reference' },
  { keys: ['i'], action: 'inflight', screens: ['sessions', 'timeline', 'exchanges'], help: 'in flight: every request still waiting, live (age, the stream it waits on, its last byte)' },
  { keys: ['!'], action: 'problems', screens: ['sessions', 'timeline', 'exchanges'], help: 'problems (mcptap check) of the session' },
  { keys: ['c'], action: 'correlated', screens: ['detail'], help: 'jump to the correlated request / response' },
  { keys: ['R'], action: 'resend', screens: ['detail'], help: 'resend this message (edit it in $EDITOR first), as a new session' },
  { keys: ['w'], action: 'raw', screens: ['detail'], help: 'the wire: the SSE event or WebSocket frame as sent, or the decoded JSON' },
  { keys: ['C'], action: 'curl', screens: ['detail'], help: 'write the HTTP exchange as a curl command to a file (secrets stay redacted)' },
  { keys: ['y'], action: 'yank', screens: ['detail', 'timeline'], help: 'write the message JSON to a file' },
  { keys: ['e'], action: 'export', screens: ['timeline', 'detail'], help: 'export the session as JSONL' },
  { keys: ['h'], action: 'held', screens: ['sessions', 'timeline'], help: 'held: the messages --hold holds (forward, edit, answer, drop)' },
  { keys: ['f', '@return'], action: 'forward', screens: ['held'], help: 'forward it as it is' },
  { keys: ['e'], action: 'editHeld', screens: ['held'], help: 'edit it in $EDITOR, then forward it' },
  { keys: ['a'], action: 'answerHeld', screens: ['held'], help: 'answer it yourself (a result or error, in $EDITOR)' },
  { keys: ['x'], action: 'drop', screens: ['held'], help: 'drop it (the client gets an HTTP error)' },
  { keys: ['@tab', 'n'], action: 'nextUse', screens: ['timeline'], help: 'conversation: next tool use of the turn (Enter opens its MCP call)' },
];

export function actionFor(input: string, key: Key, screen: Screen): Action | null {
  for (const b of BINDINGS) {
    if (b.screens !== 'all' && !b.screens.includes(screen)) continue;
    for (const k of b.keys) {
      if (k.startsWith('@') ? (key as unknown as Record<string, boolean>)[k.slice(1)] : input === k && !key.ctrl && !key.meta) return b.action;
    }
  }
  return null;
}

export function keyName(k: string): string {
  const names: Record<string, string> = { '@upArrow': '↑', '@downArrow': '↓', '@leftArrow': '←', '@rightArrow': '→', '@pageUp': 'PgUp', '@pageDown': 'PgDn', '@return': 'Enter', '@escape': 'Esc', '@backspace': 'Bksp', '@tab': 'Tab', ' ': 'Space' };
  return names[k] ?? (k.startsWith('@') ? k.slice(1) : k);
}

/** One-line hints for the footer of a screen, within `width`: back and help always, then as many others as fit. */
export function hints(screen: Screen, width = Infinity): string {
  const pick: Record<Screen, Action[]> = {
    sessions: ['open', 'reference', 'diff', 'problems', 'inflight', 'help', 'quit'],
    timeline: ['open', 'filter', 'follow', 'play', 'diff', 'problems', 'inflight', 'back', 'help'],
    detail: ['correlated', 'resend', 'raw', 'curl', 'yank', 'export', 'back', 'help'],
    exchanges: ['open', 'problems', 'diff', 'back', 'help'],
    exchange: ['back', 'help'],
    diff: ['open', 'back', 'help'],
    problems: ['open', 'back', 'help'],
    inflight: ['open', 'back', 'help'],
    held: ['forward', 'editHeld', 'answerHeld', 'drop', 'back', 'help'],
    help: ['back', 'quit'],
  };
  const text = (a: Action) => {
    const b = BINDINGS.find((x) => x.action === a && (x.screens === 'all' || x.screens.includes(screen)))!;
    return `${keyName(b.keys[0])} ${b.help.split(' (')[0]}`;
  };
  const all = pick[screen];
  const fixed = all.filter((a) => a === 'back' || a === 'help' || a === 'quit');
  const chosen = new Set<Action>(fixed);
  const join = (as: Action[]) => all.filter((a) => as.includes(a)).map(text).join(' · ');
  for (const a of all) {
    if (chosen.has(a)) continue;
    if (join([...chosen, a]).length > width) break;
    chosen.add(a);
  }
  return join([...chosen]);
}
