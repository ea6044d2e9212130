import { randomBytes } from 'node:crypto';
import type { Rewrite } from '../model/model.js';
import type { Interceptor } from './intercept.js';
import { SERVER_NO_ANSWER } from './sse-intercept.js';

// --hold on a WebSocket: one side's frames (the client's; with dir:s2c, the server's) are cut at
// frame boundaries; a whole text frame (FIN, opcode 1, no compression) whose JSON-RPC matches is held,
// and every frame after it waits behind it, so the other side sees the messages in the order they were
// sent. Frames that match nothing are written on as they came, byte for byte.

const NO_ANSWER = 'came over a WebSocket: its answer would have to go into the server\'s frame stream, where the intercept cannot write yet';

/** The length of the first whole frame in `b`, or null when it is not all there yet. */
function frameLength(b: Buffer): number | null {
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
  const total = at + (masked ? 4 : 0) + len;
  return b.length >= total ? total : null;
}

/** The text of an unfragmented, uncompressed text frame; null for any other frame. */
function textOf(f: Buffer): string | null {
  if ((f[0] & 0xf0) !== 0x80 || (f[0] & 0x0f) !== 1) return null;
  const masked = (f[1] & 0x80) !== 0;
  const len7 = f[1] & 0x7f;
  const at = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
  const mask = masked ? f.subarray(at, at + 4) : null;
  const payload = Buffer.from(f.subarray(at + (masked ? 4 : 0)));
  if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
  return payload.toString('utf8');
}

/** A text frame carrying `text`: masked from a client, as RFC 6455 requires, unmasked from a server. */
function textFrame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const len = payload.length;
  const m = masked ? 0x80 : 0;
  const head = len < 126 ? Buffer.from([0x81, m | len]) : len < 65536 ? Buffer.from([0x81, m | 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0x81, m | 127]), (() => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    return b;
  })()]);
  if (!masked) return Buffer.concat([head, payload]);
  const mask = randomBytes(4);
  for (let i = 0; i < len; i++) payload[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, payload]);
}

export class FrameGate {
  private buf: Buffer = Buffer.alloc(0);
  private holding: number | null = null;
  private waiting: Buffer[] = [];

  constructor(
    private readonly interceptor: Interceptor,
    private readonly route: string,
    /** Writes bytes on to the server. */
    private readonly write: (bytes: Buffer) => void,
    private readonly record: (change: Rewrite) => void,
    /** Whose frames these are. */
    private readonly from: 'client' | 'server' = 'client',
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (let n = frameLength(this.buf); n != null; n = frameLength(this.buf)) {
      const frame = Buffer.from(this.buf.subarray(0, n));
      this.buf = this.buf.subarray(n);
      this.frame(frame);
    }
  }

  /** The client went: a held frame leaves the held list, and nothing more is sent. */
  close(): void {
    if (this.holding != null) this.interceptor.abandon(this.holding);
  }

  private frame(f: Buffer): void {
    if (this.holding != null) return void this.waiting.push(f);
    const text = textOf(f);
    const client = this.from === 'client';
    const m = text == null ? null : client ? this.interceptor.matching(text) : this.interceptor.matchingServer(text);
    if (!m) return this.write(f);
    const { id, verdict } = this.interceptor.hold(text!, m, this.route, client ? NO_ANSWER : SERVER_NO_ANSWER, client ? 'client->server' : 'server->client');
    this.holding = id;
    void verdict.then((v) => {
      if (v.kind === 'forward' && v.edited) {
        this.record({ kind: 'intercept-edit', before: text!, after: v.body });
        this.write(textFrame(v.body, client));
      } else if (v.kind === 'forward') this.write(f);
      this.holding = null;
      const after = this.waiting;
      this.waiting = [];
      for (const x of after) this.frame(x);
    });
  }
}
