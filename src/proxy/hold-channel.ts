import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { UsageError } from '../errors.js';
import type { HeldMessage, HoldControl, Interceptor, InterceptorEvents } from './intercept.js';

/** The longest request line the hold channel reads (an edited message with room to spare). */
const MAX_LINE = 128 * 1024 * 1024;

// The hold channel: a running `mcptap proxy --hold FILTER` serves what it holds to `mcptap tui` started
// beside it, and takes its decisions (forward, edit, answer, drop). It is a Unix domain socket (mode 0600)
// in a directory only its user can enter (~/.mcptap/hold, 0700): no web page and no other user reaches it,
// and no TCP port is opened. One JSON object a line each way:
//   proxy → TUI: {"type":"hello","filter":…,"held":[…]} once, then {"type":"held","held":[…]} on each change,
//                {"type":"reply","seq":n,"error":…?} for each decision;
//   TUI → proxy: {"seq":n,"op":"forward"|"answer"|"drop","id":…,"body":…?}.
// Decisions run on the proxy's Interceptor, so they are recorded exactly as in-process ones.
// Detach: when the last TUI goes (quits, crashes, its socket closes) a headless proxy forwards what it
// held unchanged and stops holding until a TUI attaches again; it never waits on a TUI that is gone.

/** Where the proxy writing database `db` serves its hold channel (named after the database's real path), in
 * `home`'s ~/.mcptap/hold. */
export function holdSocketPath(db: string, home = os.homedir()): string {
  let real = path.resolve(db);
  try {
    real = fs.realpathSync(real);
  } catch {
    // Not created yet: its resolved path names it.
  }
  return path.join(home, '.mcptap', 'hold', `${createHash('sha256').update(real).digest('hex').slice(0, 16)}.sock`);
}

/** Makes `dir` (0700, the user's own); refuses one another user owns or could enter. */
function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new Error(`${dir} belongs to another user`);
  if (st.mode & 0o077) fs.chmodSync(dir, 0o700);
}

/** Whether something answers on socket `file`. */
function answers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

type Request = { seq?: unknown; op?: unknown; id?: unknown; body?: unknown };

export interface HoldChannel {
  path: string;
  /** TUIs attached now. */
  attached(): number;
  close(): Promise<void>;
}

/**
 * Serves `interceptor` on the hold socket of database `db`. `alwaysHolding` (`proxy --ui`: the in-process
 * UI decides too): it holds whether or not a TUI is attached; otherwise only while one is.
 */
export async function serveHoldChannel(interceptor: Interceptor, db: string, alwaysHolding: boolean): Promise<HoldChannel> {
  const file = holdSocketPath(db);
  privateDir(path.dirname(file));
  if (fs.existsSync(file)) {
    if (await answers(file)) throw new UsageError(`another mcptap proxy holding for ${db} serves ${file}: stop it, or use another --db`);
    fs.rmSync(file, { force: true });
  }
  interceptor.holding = alwaysHolding;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    interceptor.holding = true;
    const send = (v: unknown) => {
      if (!socket.destroyed) socket.write(JSON.stringify(v) + '\n');
    };
    const update = () => send({ type: 'held', held: interceptor.held() });
    interceptor.on('change', update);
    send({ type: 'hello', filter: interceptor.filter, held: interceptor.held() });
    const lines = readline.createInterface({ input: socket, crlfDelay: Infinity });
    // A TUI that dies resets its socket: that is a detach, never an error of the proxy's.
    lines.on('error', () => socket.destroy());
    // One request is a line of JSON (an edit carries a message): a line past the bound is no request, and the
    // connection is closed before it can fill the proxy's memory.
    let sinceNewline = 0;
    socket.on('data', (chunk: Buffer) => {
      const nl = chunk.lastIndexOf(10);
      sinceNewline = nl < 0 ? sinceNewline + chunk.length : chunk.length - nl - 1;
      if (sinceNewline > MAX_LINE) socket.destroy();
    });
    lines.on('line', (line) => {
      let r: Request;
      try {
        r = JSON.parse(line) as Request;
      } catch {
        return send({ type: 'reply', seq: null, error: 'not JSON' });
      }
      send({ type: 'reply', seq: r.seq ?? null, error: decide(interceptor, r) });
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      interceptor.off('change', update);
      if (sockets.size || alwaysHolding) return;
      // The last TUI is gone: nothing held waits on it.
      interceptor.holding = false;
      interceptor.releaseAll();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(file, 0o600);
  return {
    path: file,
    attached: () => sockets.size,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Runs one decision from a TUI; the refusal's words, or null. */
function decide(interceptor: Interceptor, r: Request): string | null {
  if (typeof r.id !== 'number') return 'no held message id';
  const body = typeof r.body === 'string' ? r.body : undefined;
  try {
    if (r.op === 'forward') interceptor.forward(r.id, body);
    else if (r.op === 'drop') interceptor.drop(r.id);
    else if (r.op === 'answer' && body != null) interceptor.answer(r.id, body);
    else return `unknown decision ${JSON.stringify(r.op)}`;
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** A TUI's end of a running proxy's hold channel: the held screen drives it as it drives an Interceptor. */
export class HoldClient extends EventEmitter<InterceptorEvents & { gone: [] }> implements HoldControl {
  private list: HeldMessage[] = [];
  private seq = 0;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private closed = false;

  private constructor(private readonly socket: net.Socket, readonly filter: string, held: HeldMessage[]) {
    super();
    this.list = held;
  }

  /** Attaches to the hold socket `file`; rejects when no proxy serves it. */
  static connect(file: string): Promise<HoldClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(file);
      let client: HoldClient | null = null;
      const lines = readline.createInterface({ input: socket, crlfDelay: Infinity });
      lines.on('error', () => socket.destroy());
      socket.once('error', (e: NodeJS.ErrnoException) => {
        if (!client) reject(new UsageError(`no mcptap proxy --hold answers on ${file} (${e.code ?? e.message})`));
      });
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        if (!client) return reject(new UsageError(`the mcptap proxy on ${file} closed the hold channel`));
        client.gone();
      });
      lines.on('line', (line) => {
        let m: { type?: string; filter?: string; held?: HeldMessage[]; seq?: number; error?: string | null };
        try {
          m = JSON.parse(line);
        } catch {
          return;
        }
        if (m.type === 'hello' && !client) {
          client = new HoldClient(socket, m.filter ?? '', m.held ?? []);
          resolve(client);
        } else if (client) client.receive(m);
      });
    });
  }

  private receive(m: { type?: string; held?: HeldMessage[]; seq?: number; error?: string | null }): void {
    if (m.type === 'held') {
      this.list = m.held ?? [];
      this.emit('change');
    } else if (m.type === 'reply' && typeof m.seq === 'number') {
      const p = this.pending.get(m.seq);
      this.pending.delete(m.seq);
      if (m.error) p?.reject(new UsageError(m.error));
      else p?.resolve();
    }
  }

  private gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.list = [];
    for (const p of this.pending.values()) p.reject(new UsageError('the proxy has stopped'));
    this.pending.clear();
    this.emit('change');
    this.emit('gone');
  }

  /** Whether the proxy is still there. */
  get attached(): boolean {
    return !this.closed;
  }

  held(): HeldMessage[] {
    return this.list;
  }

  forward(id: number, edited?: string): Promise<void> {
    return this.call({ op: 'forward', id, body: edited });
  }

  answer(id: number, answer: string): Promise<void> {
    return this.call({ op: 'answer', id, body: answer });
  }

  drop(id: number): Promise<void> {
    return this.call({ op: 'drop', id });
  }

  private call(r: { op: string; id: number; body?: string }): Promise<void> {
    if (this.closed) return Promise.reject(new UsageError('the proxy has stopped'));
    const seq = ++this.seq;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.socket.write(JSON.stringify({ seq, ...r }) + '\n');
    });
  }

  /** Detaches: a headless proxy forwards what it held unchanged once no TUI is left. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }
}
