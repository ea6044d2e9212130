import fs from 'node:fs';
import path from 'node:path';
import { shellWord } from '../analysis/wire-text.js';

export { shellWord };

function realpath(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

/**
 * How the user started this mcptap, as a command prefix that runs the same program where they are:
 * `npx mcptap` under npx, `mcptap` when that name on the PATH is this program, else `node <script>`
 * (relative to the current folder when inside it). A command printed as plain `mcptap` is "command
 * not found" in a fresh clone, and `npx mcptap` outside it would fetch whatever the registry has.
 */
export function invocation(script = process.argv[1] ?? '', env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (env.npm_command === 'exec' && env.npm_lifecycle_event === 'npx') return 'npx mcptap';
  const self = realpath(script);
  if (self) {
    for (const dir of (env.PATH ?? '').split(path.delimiter)) {
      if (!dir) continue;
      const found = realpath(path.join(dir, 'mcptap'));
      if (found) {
        if (found === self) return 'mcptap';
        break;
      }
    }
  }
  const abs = path.resolve(cwd, script);
  const rel = path.relative(cwd, abs);
  return `node ${shellWord(rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs)}`;
}

/** A command line for the user to paste: the invocation, then the arguments, quoted where needed. */
export function commandLine(...args: string[]): string {
  return [invocation(), ...args.map(shellWord)].join(' ');
}
