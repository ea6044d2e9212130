import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { UsageError, EXIT } from '../errors.js';
import { defaultDbPath } from '../store/db.js';
import { CaptureStore } from '../store/read.js';
import { terminalSafe } from '../model/terminal.js';

export const EXIT_CODES_HELP = `
Exit codes: 0 ok · 1 a check or diff found something · 2 bad input`;

/** The --db option every command that reads or writes captures takes. */
export function dbOption(): Option {
  return new Option('--db <file>', 'capture database (default: $MCPTAP_DB or ~/.mcptap/captures.db)');
}

export function resolveDb(opt: string | undefined): string {
  return opt || defaultDbPath();
}

/** Opens the capture store for reading; a missing or unreadable file is a usage error. */
export function openStore(opt: string | undefined, opts: { write?: boolean } = {}): CaptureStore {
  const file = resolveDb(opt);
  return CaptureStore.open(file, opts.write ? { create: true } : { readonly: true });
}

export function parseIntOption(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`${name} must be a whole number from ${min} to ${max} (got '${v}')`);
    }
    return n;
  };
}

export function parseBytes(name: string) {
  return (v: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(v.trim());
    if (!m) throw new UsageError(`${name} must be a size like 8388608, 512k or 8m (got '${v}')`);
    const unit = (m[2] ?? 'b').toLowerCase()[0];
    const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
    const n = Math.floor(Number(m[1]) * mult);
    if (n < 1) throw new UsageError(`${name} must be at least 1 byte`);
    return n;
  };
}

/**
 * Runs a command's action: a UsageError becomes one line and exit 2; anything unexpected becomes one
 * line and exit 2 as well (set MCPTAP_DEBUG=1 for the stack). The action returns its exit code.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) {
  return async (...args: A): Promise<void> => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? EXIT.ok;
    } catch (err) {
      fail(err);
    }
  };
}

/** A warning for the user, on stderr: the command goes on. */
export function warn(message: string): void {
  process.stderr.write(`mcptap: warning: ${message}\n`);
}

export function fail(err: unknown): void {
  const e = err as Error;
  if (process.env.MCPTAP_DEBUG && e?.stack) process.stderr.write(e.stack + '\n');
  let msg = (e?.message ?? String(err)).split('\n')[0];
  // A database damaged past its header fails on a read, not on open.
  if (/^SQLITE_(CORRUPT|NOTADB)/.test((e as { code?: string })?.code ?? '')) {
    msg = `the capture database is damaged (${msg}); save what is left with: sqlite3 FILE .recover | sqlite3 recovered.db`;
  }
  process.stderr.write(`mcptap: ${msg}\n`);
  process.exitCode = EXIT.usage;
}

export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => '  $ ' + l).join('\n')}\n${EXIT_CODES_HELP}\n`;
}

/**
 * --json output, exact. A payload nested too deep for JSON.stringify (which overflows near 5,000 levels)
 * is spliced in as its stored text: `rawJson` marks such a value.
 */
export function printJson(value: unknown): void {
  const raw: string[] = [];
  // A string no payload can foresee (a fresh nonce after a NUL), which JSON.stringify writes as \u0000….
  const nonce = randomBytes(6).toString('hex');
  const mark = `\u0000mcptap-raw-${nonce}-`;
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof RawJson) {
      raw.push(v.text);
      return `${mark}${raw.length - 1}`;
    }
    return v;
  }, 2);
  process.stdout.write((raw.length ? text.replace(new RegExp(`"\\\\u0000mcptap-raw-${nonce}-(\\d+)"`, 'g'), (_m, i: string) => raw[Number(i)]) : text) + '\n');
}

class RawJson {
  constructor(readonly text: string) {}
}

/** JSON text (valid, stored) to print as it is inside printJson's output. */
export function rawJson(text: string): unknown {
  return new RawJson(text);
}

/** Text output for a terminal: control characters from the wire are shown escaped (src/model/terminal.ts). */
export function printText(text: string): void {
  process.stdout.write(terminalSafe(text));
}

export type { Command };

/**
 * Ink renders only a final frame when it believes it runs in CI (CI=true and friends). A person at a
 * terminal who asked for the UI is not a CI job: drop those variables before Ink is loaded.
 */
export function preferInteractive(): void {
  if (!process.stdin.isTTY || !process.stdout.isTTY) return;
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
}

/** A repeatable option's values, in the order given (`--allow-host a --allow-host b`). */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** The listening port's --allow-host / --allow-origin (src/proxy/host-guard.ts), for proxy and mock. */
export function portGuardOptions(): Option[] {
  return [
    new Option('--allow-host <name>', "also serve requests whose Host is NAME (repeatable; 127.0.0.1, localhost, [::1] and --host always are)").argParser(collect).default([]),
    new Option('--allow-origin <origin>', 'also serve browser requests from ORIGIN, e.g. https://app.example (repeatable; local pages always are)').argParser(collect).default([]),
  ];
}
