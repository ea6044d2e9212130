import zlib from 'node:zlib';
import { trackDecode } from './body.js';

/** What permessage-deflate the two ends agreed on, for one direction of a connection. */
export interface DeflateParams {
  /** The sender resets its compressor after each message (`*_no_context_takeover`). */
  noContextTakeover: boolean;
}

export interface WsMessage {
  /** 1 text, 2 binary. */
  opcode: 1 | 2;
  data: Buffer;
  /** Payload bytes as framed on the wire (compressed size when compressed). */
  wireBytes: number;
  /** The message was bigger than the decode cap: `data` is its start only. */
  truncated: boolean;
}

export interface WsFrameHandlers {
  onMessage(m: WsMessage): void;
  /** A close frame: its code (1005 when it carried none) and reason. */
  onClose?(code: number, reason: string): void;
  /** A ping or pong: liveness of the connection, no message. */
  onPing?(): void;
  /** A framing or decompression error: the tap stops, the bytes keep flowing. */
  onError?(message: string): void;
}

const WINDOW = 32 * 1024;
/**
 * Output inflated on the event loop for one message; a message that inflates to more is inflated again
 * in zlib's thread pool, and the decoder holds its later bytes until then: a 60 MB message took the main
 * thread for seconds, stalling every other client's forwarding with it.
 */
const INFLATE_STEP = 1024 * 1024;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * Reads WebSocket frames (RFC 6455) from one direction of a connection whose bytes are relayed
 * untouched: unmasks, joins fragments, decompresses permessage-deflate (RFC 7692, context takeover
 * included: the last 32 KB of the direction's output primes the next inflate), and hands on whole
 * messages. Its result does not depend on how the bytes were split into chunks.
 */
export class WsFrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed before the next parse can make progress. */
  private need = 2;
  /** Payload bytes still to pass of a frame too big to keep. */
  private skip = 0;
  private skipFin = false;
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  private wireBytes = 0;
  private messageOpcode: 1 | 2 | 0 = 0;
  private compressed = false;
  private truncated = false;
  private window: Buffer | null = null;
  private failed = false;
  private maskReported = false;
  /** A message inflating in the thread pool: later bytes wait in `held`, in order. */
  private inflating = false;
  private held: Buffer[] = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly handlers: WsFrameHandlers,
    private readonly deflate: DeflateParams | null,
    /** Bytes of one message kept for decoding; the rest is counted, not held. */
    private readonly cap = 64 * 1024 * 1024,
    /** Frames from a client must be masked and a server's must not be (RFC 6455 5.1); null: either. */
    private readonly expectMasked: boolean | null = null,
  ) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    if (this.inflating) return void this.held.push(chunk);
    if (this.skip > 0) {
      // Inside a frame too big to keep: count its bytes, hold none.
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      this.wireBytes += n;
      if (this.skip === 0 && this.skipFin) this.finishMessage();
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Nothing is joined until a whole header or frame is there: a big frame in many chunks is copied once.
    if (this.pendingBytes < this.need) return;
    const b = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    let off = 0;
    this.need = 2;
    for (;;) {
      const avail = b.length - off;
      if (avail < 2) break;
      const b0 = b[off];
      const b1 = b[off + 1];
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) head = 4;
      else if (len === 127) head = 10;
      const masked = (b1 & 0x80) !== 0;
      // Reported, not fatal: the peer that receives it closes the connection, and the tap follows the bytes.
      if (this.expectMasked != null && masked !== this.expectMasked && !this.maskReported) {
        this.maskReported = true;
        this.handlers.onError?.(`a frame ${masked ? 'masked' : 'not masked'}, which RFC 6455 forbids from this side`);
      }
      if (avail < head + (masked ? 4 : 0)) {
        this.need = head + (masked ? 4 : 0);
        break;
      }
      if (head === 4) len = b.readUInt16BE(off + 2);
      else if (head === 10) {
        const big = b.readBigUInt64BE(off + 2);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) return this.fail('frame length out of range');
        len = Number(big);
      }
      const maskAt = off + head;
      if (masked) head += 4;
      const opcode = b0 & 0x0f;
      if (avail < head + len) {
        if (opcode < 8 && this.fragmentBytes + len > this.cap) {
          // Too big to keep: note what it is, then let its bytes pass uncounted in memory.
          if (!this.begin(opcode, (b0 & 0x40) !== 0)) return;
          this.truncated = true;
          this.wireBytes += avail - head;
          this.skip = head + len - avail;
          this.skipFin = (b0 & 0x80) !== 0;
          off = b.length;
          break;
        }
        this.need = head + len;
        break;
      }
      let payload = b.subarray(off + head, off + head + len);
      if (masked) {
        const out = Buffer.allocUnsafe(len);
        for (let i = 0; i < len; i++) out[i] = payload[i] ^ b[maskAt + (i & 3)];
        payload = out;
      } else if (opcode < 8) {
        // Our own copy: the chunk it came from is free to go once forwarded.
        payload = Buffer.from(payload);
      }
      off += head + len;
      this.frame((b0 & 0x80) !== 0, (b0 & 0x40) !== 0, opcode, payload);
      if (this.failed) return;
      if (this.inflating) {
        // The rest waits for the message inflating off the loop, so messages keep their order.
        if (off < b.length) this.held.push(Buffer.from(b.subarray(off)));
        this.pending = [];
        this.pendingBytes = 0;
        this.need = 2;
        return;
      }
    }
    const rest = off === b.length ? null : Buffer.from(b.subarray(off));
    this.pending = rest ? [rest] : [];
    this.pendingBytes = rest ? rest.length : 0;
  }

  /** The first frame of a message; false when the sequence of frames is broken. */
  private begin(opcode: number, rsv1: boolean): boolean {
    if (opcode === 1 || opcode === 2) {
      if (this.messageOpcode) {
        this.fail('a new message began before the last one finished');
        return false;
      }
      this.messageOpcode = opcode;
      this.compressed = rsv1 && this.deflate != null;
      return true;
    }
    if (opcode !== 0 || !this.messageOpcode) {
      this.fail(`unexpected frame opcode ${opcode}`);
      return false;
    }
    return true;
  }

  private frame(fin: boolean, rsv1: boolean, opcode: number, payload: Buffer): void {
    if (opcode >= 8) {
      if (opcode === 8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.handlers.onClose?.(code, payload.length > 2 ? payload.subarray(2).toString('utf8') : '');
      } else this.handlers.onPing?.();
      return;
    }
    if (!this.begin(opcode, rsv1)) return;
    this.wireBytes += payload.length;
    if (this.fragmentBytes + payload.length <= this.cap) {
      this.fragments.push(payload);
      this.fragmentBytes += payload.length;
    } else {
      this.truncated = true;
    }
    if (fin) this.finishMessage();
  }

  private finishMessage(): void {
    const opcode = this.messageOpcode as 1 | 2;
    let data = this.fragments.length === 1 ? this.fragments[0] : Buffer.concat(this.fragments);
    const wireBytes = this.wireBytes;
    let truncated = this.truncated;
    this.fragments = [];
    this.fragmentBytes = 0;
    this.wireBytes = 0;
    this.messageOpcode = 0;
    this.truncated = false;
    if (this.compressed) {
      if (truncated) {
        // A cut deflate stream cannot be read, and the window it leaves is unknown.
        this.window = null;
        data = Buffer.alloc(0);
      } else {
        const input = Buffer.concat([data, TAIL]);
        const opts: zlib.ZlibOptions = { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: Math.min(INFLATE_STEP, this.cap) };
        if (this.window && !this.deflate!.noContextTakeover) opts.dictionary = this.window;
        try {
          data = zlib.inflateRawSync(input, opts);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE' || this.cap <= INFLATE_STEP) return this.fail(`permessage-deflate: ${(e as Error).message}`);
          return this.inflateOffLoop(input, { ...opts, maxOutputLength: this.cap }, opcode, wireBytes);
        }
        this.keepWindow(data);
      }
    }
    this.handlers.onMessage({ opcode, data, wireBytes, truncated });
  }

  /** The last 32 KB of a direction's output primes its next message's inflate (context takeover). */
  private keepWindow(data: Buffer): void {
    if (this.deflate!.noContextTakeover) return;
    const joined = this.window ? Buffer.concat([this.window, data]) : data;
    this.window = Buffer.from(joined.subarray(Math.max(0, joined.length - WINDOW)));
  }

  private inflateOffLoop(input: Buffer, opts: zlib.ZlibOptions, opcode: 1 | 2, wireBytes: number): void {
    this.inflating = true;
    trackDecode(1);
    zlib.inflateRaw(input, opts, (err, data) => {
      trackDecode(-1);
      this.inflating = false;
      if (err) return this.fail(`permessage-deflate: ${err.message}`);
      this.keepWindow(data);
      this.handlers.onMessage({ opcode, data, wireBytes, truncated: false });
      const held = this.held;
      this.held = [];
      for (const c of held) this.push(c);
      if (!this.inflating) for (const f of this.idleWaiters.splice(0)) f();
    });
  }

  /** Runs `fn` once every byte pushed so far is decoded (at once, unless a message is inflating off the loop). */
  whenIdle(fn: () => void): void {
    if (this.inflating) this.idleWaiters.push(fn);
    else fn();
  }

  private fail(message: string): void {
    this.held = [];
    for (const f of this.idleWaiters.splice(0)) f();
    this.failed = true;
    this.pending = [];
    this.fragments = [];
    this.handlers.onError?.(message);
  }
}

/** The permessage-deflate parameters a handshake response agreed on, per direction; null without it. */
export function negotiatedDeflate(extensions: string | null | undefined): { client: DeflateParams; server: DeflateParams } | null {
  if (!extensions) return null;
  for (const ext of extensions.split(',')) {
    const [name, ...params] = ext.split(';').map((p) => p.trim().toLowerCase());
    if (name !== 'permessage-deflate') continue;
    const names = params.map((p) => p.split('=')[0].trim());
    return {
      client: { noContextTakeover: names.includes('client_no_context_takeover') },
      server: { noContextTakeover: names.includes('server_no_context_takeover') },
    };
  }
  return null;
}
