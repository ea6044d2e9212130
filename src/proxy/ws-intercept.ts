import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import type { Rewrite } from '../model/model.js';
import { negotiatedDeflate, type DeflateParams } from '../wire/ws-frames.js';
import type { Interceptor } from './intercept.js';
import { SERVER_NO_ANSWER } from './sse-intercept.js';

// --hold on a WebSocket: one side's frames (the client's; with dir:s2c, the server's) are read one
// message at a time: fragments are joined, permessage-deflate is inflated (context takeover included:
// the sender's last 32 KB primes the next message, as in src/wire/ws-frames.ts). A text message whose
// JSON-RPC matches is held, and everything after it waits behind it, so the other side sees the
// messages in the order they were sent. A message that matches nothing goes on as it came, byte for
// byte (its frames, and the control frames between them, in their order).
//
// What the proxy writes itself (an edit, an answer given by hand) goes as one uncompressed frame: RFC
// 7692 lets any message go uncompressed, and the receiver's inflate window is not touched by it. When a
// compressed message under context takeover never reaches the receiver (dropped or replaced), the
// sender's later messages refer to bytes the receiver lacks: from then on they go inflated, uncompressed.

const WINDOW = 32 * 1024;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** A message inflating to more than this is not read: the gate lets the rest of the connection through. */
const MAX_MESSAGE = 64 * 1024 * 1024;

interface Frame {
  /** The frame as it came. */
  raw: Buffer;
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  /** Unmasked. */
  payload: Buffer;
}

/** One whole data message, with the control frames that came between its fragments. */
interface Message {
  kind: 'message';
  /** Every frame as it came, in order (its fragments and the control frames among them). */
  raw: Buffer[];
  controls: Buffer[];
  opcode: number;
  compressed: boolean;
  data: Buffer;
  /** The sender's inflate window before and after this message (compressed, context takeover). */
  windowBefore: Buffer | null;
  windowAfter: Buffer | null;
}

type Item = Message | { kind: 'control'; raw: Buffer } | { kind: 'inject'; text: string };

/** The length of the frame starting `b` once its head is there (0 before). */
function frameSize(b: Buffer): number {
  if (b.length < 2) return 0;
  const len7 = b[1] & 0x7f;
  const at = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
  if (b.length < at) return 0;
  const len = len7 === 126 ? b.readUInt16BE(2) : len7 === 127 ? Number(b.readBigUInt64BE(2)) : len7;
  return at + ((b[1] & 0x80) !== 0 ? 4 : 0) + len;
}

/** The first whole frame in `b`, or null when it is not all there yet. */
function readFrame(b: Buffer): Frame | null {
  if (b.length < 2) return null;
  const masked = (b[1] & 0x80) !== 0;
  let len = b[1] & 0x7f;
  let at = 2;
  if (len === 126) {
    if (b.length < 4) return null;
    len = b.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    if (b.length < 10) return null;
    len = Number(b.readBigUInt64BE(2));
    at = 10;
  }
  const start = at + (masked ? 4 : 0);
  if (b.length < start + len) return null;
  const raw = Buffer.from(b.subarray(0, start + len));
  const payload = raw.subarray(start);
  if (masked) {
    const unmasked = Buffer.allocUnsafe(len);
    for (let i = 0; i < len; i++) unmasked[i] = payload[i] ^ raw[at + (i & 3)];
    return { raw, fin: (b[0] & 0x80) !== 0, rsv1: (b[0] & 0x40) !== 0, opcode: b[0] & 0x0f, payload: unmasked };
  }
  return { raw, fin: (b[0] & 0x80) !== 0, rsv1: (b[0] & 0x40) !== 0, opcode: b[0] & 0x0f, payload };
}

/** One uncompressed frame carrying `data`: masked from a client, as RFC 6455 requires, unmasked from a server. */
export function dataFrame(data: Buffer, opcode: number, masked: boolean): Buffer {
  const len = data.length;
  const m = masked ? 0x80 : 0;
  let head: Buffer;
  if (len < 126) head = Buffer.from([0x80 | opcode, m | len]);
  else if (len < 65536) head = Buffer.from([0x80 | opcode, m | 126, len >> 8, len & 0xff]);
  else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = m | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!masked) return Buffer.concat([head, data]);
  const mask = randomBytes(4);
  const payload = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) payload[i] = data[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, payload]);
}

const sameWindow = (a: Buffer | null, b: Buffer | null) => a === b || (a != null && b != null && a.equals(b));

export class FrameGate {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed before the next frame is whole: a big frame in many chunks is joined once. */
  private need = 0;
  private items: Item[] = [];
  private holding: number | null = null;
  private gathering: { raw: Buffer[]; controls: Buffer[]; payloads: Buffer[]; bytes: number; opcode: number; rsv1: boolean } | null = null;
  /** The sender's inflate window, and the one the receiver has (they differ once a compressed message was kept from it). */
  private senderWindow: Buffer | null = null;
  private receiverWindow: Buffer | null = null;
  /** The frames could not be read: from then on bytes pass as they come. */
  private blind = false;

  constructor(
    private readonly interceptor: Interceptor,
    private readonly route: string,
    /** Writes bytes on to the other side. */
    private readonly write: (bytes: Buffer) => void,
    private readonly record: (change: Rewrite) => void,
    /** Whose frames these are. */
    private readonly from: 'client' | 'server' = 'client',
    /** The permessage-deflate this side's sender agreed to, or null. */
    private readonly deflate: DeflateParams | null = null,
    /** The client's gate: sends an answer given by hand to the client, as the server's next message. */
    private readonly answer: ((text: string) => void) | null = null,
  ) {}

  push(chunk: Buffer): void {
    if (this.blind) return this.write(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.need) return;
    let b = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    for (let f = readFrame(b); f; f = readFrame(b)) {
      b = b.subarray(f.raw.length);
      this.frame(f);
      if (this.blind) {
        if (b.length) this.write(b);
        b = Buffer.alloc(0);
        break;
      }
    }
    this.pending = b.length ? [b] : [];
    this.pendingBytes = b.length;
    this.need = frameSize(b);
    this.drain();
  }

  /** Sends a message the other side's server did not (an answer given by hand), after what is held now. */
  inject(text: string): void {
    this.items.push({ kind: 'inject', text });
    this.drain();
  }

  /** The client went: a held message leaves the held list, and nothing more is sent. */
  close(): void {
    if (this.holding != null) this.interceptor.abandon(this.holding);
  }

  private frame(f: Frame): void {
    const g = this.gathering;
    if (f.opcode >= 8) {
      if (g) {
        g.raw.push(f.raw);
        g.controls.push(f.raw);
      } else this.items.push({ kind: 'control', raw: f.raw });
      return;
    }
    if (f.opcode !== 0 && g || f.opcode === 0 && !g) return this.goBlind();
    const m = g ?? (this.gathering = { raw: [], controls: [], payloads: [], bytes: 0, opcode: f.opcode, rsv1: f.rsv1 });
    m.raw.push(f.raw);
    m.payloads.push(f.payload);
    m.bytes += f.payload.length;
    if (m.bytes > MAX_MESSAGE) return this.goBlind();
    if (!f.fin) return;
    this.gathering = null;
    const compressed = m.rsv1 && this.deflate != null;
    let data = m.payloads.length === 1 ? m.payloads[0] : Buffer.concat(m.payloads);
    const windowBefore = this.senderWindow;
    if (compressed) {
      const takeover = !this.deflate!.noContextTakeover;
      try {
        data = zlib.inflateRawSync(Buffer.concat([data, TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: MAX_MESSAGE, ...(takeover && windowBefore ? { dictionary: windowBefore } : {}) });
      } catch {
        return this.goBlind();
      }
      if (takeover) {
        const joined = windowBefore ? Buffer.concat([windowBefore, data]) : data;
        this.senderWindow = Buffer.from(joined.subarray(Math.max(0, joined.length - WINDOW)));
      }
    }
    this.items.push({ kind: 'message', raw: m.raw, controls: m.controls, opcode: m.opcode, compressed, data, windowBefore, windowAfter: this.senderWindow });
  }

  /** What came is not frames the gate can follow (or a message too big to read): it steps aside. */
  private goBlind(): void {
    this.blind = true;
    for (const it of this.items.splice(0)) {
      if (it.kind === 'inject') this.write(dataFrame(Buffer.from(it.text), 1, this.from === 'client'));
      else if (it.kind === 'control') this.write(it.raw);
      else for (const r of it.raw) this.write(r);
    }
    if (this.gathering) for (const r of this.gathering.raw) this.write(r);
    this.gathering = null;
  }

  private drain(): void {
    while (this.holding == null && this.items.length && !this.blind) {
      const it = this.items.shift()!;
      if (it.kind === 'control') this.write(it.raw);
      else if (it.kind === 'inject') this.write(dataFrame(Buffer.from(it.text), 1, this.from === 'client'));
      else this.message(it);
    }
  }

  private message(it: Message): void {
    const client = this.from === 'client';
    const text = it.opcode === 1 ? it.data.toString('utf8') : null;
    const m = text == null ? null : client ? this.interceptor.matching(text) : this.interceptor.matchingServer(text);
    if (!m) return this.pass(it, null);
    const noAnswer = client ? (this.answer ? null : 'came over a WebSocket whose server side the proxy cannot write to') : SERVER_NO_ANSWER;
    const { id, verdict } = this.interceptor.hold(text!, m, this.route, noAnswer, client ? 'client->server' : 'server->client', 'websocket');
    this.holding = id;
    void verdict.then((v) => {
      if (v.kind === 'forward' && v.edited) {
        this.record({ kind: client ? 'intercept-edit' : 'intercept-server-edit', before: text!, after: v.body });
        this.pass(it, Buffer.from(v.body));
      } else if (v.kind === 'forward') this.pass(it, null);
      else {
        for (const c of it.controls) this.write(c);
        if (v.kind === 'answer') {
          this.record({ kind: 'intercept-answer', before: null, after: v.body });
          this.answer!(v.body);
        }
      }
      this.holding = null;
      this.drain();
    });
  }

  /** Sends a message on: as it came while the receiver's window allows, else as one uncompressed frame. */
  private pass(it: Message, replacement: Buffer | null): void {
    if (replacement == null && (!it.compressed || sameWindow(this.receiverWindow, it.windowBefore))) {
      for (const r of it.raw) this.write(r);
      if (it.compressed) this.receiverWindow = it.windowAfter;
      return;
    }
    for (const c of it.controls) this.write(c);
    this.write(dataFrame(replacement ?? it.data, replacement ? 1 : it.opcode, this.from === 'client'));
  }
}

/**
 * Both sides of one connection through their gates: the client's frames to `up`, the server's to
 * `client`. `extensions`: the 101's Sec-WebSocket-Extensions; `injected`: an answer given by hand was
 * sent to the client (the capture records it).
 */
export function gateConnection(
  interceptor: Interceptor, route: string, client: { write(b: Buffer): unknown }, up: { write(b: Buffer): unknown },
  extensions: string | undefined, record: (change: Rewrite) => void, injected: (text: string) => void,
): { client: FrameGate; server: FrameGate } {
  const deflate = negotiatedDeflate(extensions);
  const server = new FrameGate(interceptor, route, (b) => void client.write(b), record, 'server', deflate?.server ?? null);
  const answer = (text: string) => {
    server.inject(text);
    injected(text);
  };
  return { client: new FrameGate(interceptor, route, (b) => void up.write(b), record, 'client', deflate?.client ?? null, answer), server };
}
