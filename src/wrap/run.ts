import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { CaptureEngine } from '../capture/engine.js';
import { now } from '../model/clock.js';
import { attachRecorder, type AttachedStore } from '../proxy/store-link.js';
import { StdioCapture, type ProcessEnd } from './stdio-capture.js';
import { shellLine } from './shell.js';
import { startTelemetry, type RunningTelemetry } from '../telemetry/setup.js';

export interface WrapOptions {
  command: string;
  args: string[];
  /** Capture database; null relays without recording. */
  db: string | null;
  label?: string | null;
  redact?: boolean;
  maxBody?: number;
  /** Lines of mcptap's own: warnings, never on stdout. */
  warn?: (message: string) => void;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** OpenTelemetry spans of the session to this collector (`--otlp`; null: none). */
  otlp?: { url: string | undefined } | null;
  otlpPayloads?: boolean;
}

/** Exit code for a command that could not be started, as shells give it. */
export const EXIT_NOT_STARTED = 127;

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs a stdio MCP server as a child and stands between it and the client: stdin to the child's stdin,
 * its stdout to stdout, byte for byte and chunk by chunk as they arrive, and its stderr to stderr.
 * Copies of the chunks go onto the capture queue; nothing of mcptap's own is ever written to stdout (a
 * banner there would break the client's JSON-RPC stream). Resolves with the exit code to leave with: the
 * child's, 128 + the signal that killed it, or 127 when it could not start.
 */
export async function runWrap(opts: WrapOptions): Promise<number> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const warn = opts.warn ?? ((m: string) => void stderr.write(`mcptap: warning: ${m}\n`));
  const engine = new CaptureEngine({ target: 'stdio', label: opts.label ?? null, redact: opts.redact, maxBody: opts.maxBody });
  engine.hub.on('warning', warn);
  let store: AttachedStore | null = null;
  if (opts.db) {
    try {
      store = attachRecorder(engine.hub, opts.db, warn);
      engine.useFingerprintKey(store.fingerprintKey);
    } catch (e) {
      // The server must run whatever happens to the capture: the client depends on it.
      warn(`not recording: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  // After the database's key is known, so that the command line's fingerprints are the database's.
  const commandLine = shellLine(engine.redactor.command([opts.command, ...opts.args]));
  engine.redactor.environment(process.env);
  let telemetry: RunningTelemetry | null = null;
  try {
    telemetry = await startTelemetry(engine.hub, { otlp: opts.otlp, payloads: opts.otlpPayloads, warn });
  } catch (e) {
    warn(`not exporting spans: ${(e as Error).message}`);
  }
  const queue = engine.queue;
  const t0 = now();
  let cap: StdioCapture | null = null;
  queue.push(() => {
    cap = new StdioCapture(engine, commandLine, process.cwd(), t0);
  });

  const child = spawn(opts.command, opts.args, { stdio: ['pipe', 'pipe', 'pipe'], env: process.env, cwd: process.cwd() });
  const onSignal = (sig: NodeJS.Signals) => {
    if (child.exitCode == null && child.signalCode == null) {
      queue.push(() => cap!.forwarded(sig));
      child.kill(sig);
    }
  };
  for (const s of FORWARDED) process.on(s, onSignal);

  child.stdin.on('error', () => {});
  stdin.on('data', (chunk: Buffer) => {
    const t = now();
    queue.push(() => cap!.stdin(chunk, t));
  });
  stdin.on('end', () => {
    const t = now();
    queue.push(() => cap!.stdinEnd(t));
  });
  stdin.pipe(child.stdin);
  child.stdout.on('data', (chunk: Buffer) => {
    const t = now();
    queue.push(() => cap!.stdout(chunk, t));
    // Relayed by hand, not piped: whether each chunk reached the client is a fact of the capture.
    const more = stdout.write(chunk, (err) => queue.push(() => (err ? cap!.undelivered(t) : cap!.delivered(t))));
    if (!more) {
      child.stdout.pause();
      stdout.once('drain', () => child.stdout.resume());
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    const t = now();
    queue.push(() => cap!.stderrChunk(chunk, t));
  });
  child.stderr.pipe(stderr, { end: false });
  // The client went away: the child's next write fails, as it would have without mcptap in between.
  stdout.on('error', () => child.stdout.destroy());

  const how = await new Promise<ProcessEnd>((resolve) => {
    let failed: string | null = null;
    child.once('spawn', () => {
      const t = now();
      queue.push(() => cap!.started(t));
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (child.pid == null) failed = err.code === 'ENOENT' ? `${opts.command}: command not found` : `${opts.command}: ${err.message}`;
    });
    // 'close' comes after the child exited and its stdout and stderr ended: every byte is relayed.
    child.once('close', (code, signal) => {
      if (failed) return resolve({ kind: 'failed', error: failed });
      if (signal) return resolve({ kind: 'signal', signal, code: 128 + (constants.signals[signal] ?? 0) });
      resolve({ kind: 'exited', code: code ?? 0 });
    });
  });
  for (const s of FORWARDED) process.off(s, onSignal);
  stdin.unpipe(child.stdin);
  if (how.kind === 'failed') stderr.write(`mcptap: cannot start ${how.error}\n`);
  const tEnd = now();
  queue.push(() => cap!.end(how, tEnd));
  queue.flush();
  await store?.close();
  // The client waits on nothing here: its server has exited; a dead collector costs at most the grace.
  await telemetry?.close();
  return how.kind === 'failed' ? EXIT_NOT_STARTED : how.code;
}
