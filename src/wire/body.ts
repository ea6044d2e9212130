import zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { utf8Trim } from './utf8.js';

let decoding = 0;
let drained: Array<() => void> = [];

function decodes(delta: 1 | -1): void {
  decoding += delta;
  if (decoding > 0 || drained.length === 0) return;
  const waiting = drained;
  drained = [];
  for (const w of waiting) w();
}

/**
 * A compressed body is a bomb, not a long stream, when it decoded to this many times its wire size: JSON
 * and event streams compress 5–50 times, a bomb thousands of times. A gzip event stream open for hours
 * may decode to gigabytes and is never stopped for it.
 */
const BOMB_RATIO = 200;

/** Encoded bodies whose zlib work has not finished yet (shutdown and tests wait for none). */
export function pendingDecodes(): number {
  return decoding;
}

/** Resolves when no body is decoding (at once if none is): shutdown and flush wait on it, not on a poll. */
export function decodesDrained(): Promise<void> {
  return decoding === 0 ? Promise.resolve() : new Promise((r) => drained.push(r));
}

/** Another decoder's zlib work in the thread pool (a WebSocket message inflating): +1 when it starts, -1 when done. */
export function trackDecode(delta: 1 | -1): void {
  decodes(delta);
}

export interface BodyResult {
  /** Decoded UTF-8 text of the first `cap` bytes; null for an empty body. */
  text: string | null;
  truncated: boolean;
  decodedBytes: number;
  wireBytes: number;
  error: string | null;
}

export interface BodyTapOptions {
  contentEncoding?: string | null;
  /** Bytes of decoded body kept for storage. */
  cap: number;
  /** Every decoded byte, uncapped: it feeds the SSE and JSON decoders. */
  onDecoded?: (chunk: Buffer) => void;
  onEnd?: (r: BodyResult) => void;
  /** Decoded bytes of a compressed body read at most when it is a bomb (over BOMB_RATIO): past them decoding stops. */
  maxDecoded?: number;
  /** Decoding stopped at maxDecoded. */
  onOverLimit?: () => void;
}

function decoderFor(coding: string): Transform | null {
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    // Servers send both zlib-wrapped and raw deflate under this name; Unzip detects the former only,
    // so the raw case falls back below when the header check fails.
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return null;
  }
}

/**
 * A tap on one HTTP body: keeps a capped copy for storage and hands every decoded byte on. Identity
 * bodies are handled synchronously inside push/end; encoded ones go through zlib streams. Decoding
 * errors are reported in the result, never thrown: this runs beside live traffic.
 */
export class BodyTap {
  /** The stored copy: the first chunk as it came, then one buffer of our own that grows up to the cap. */
  private kept: Buffer | null = null;
  private keptOwned = false;
  private keptBytes = 0;
  private decodedBytes = 0;
  private truncated = false;
  private error: string | null = null;
  private done = false;
  private chain: Transform[] = [];
  private raw: Buffer[] | null = null;
  private undecodable = false;
  wireBytes = 0;

  constructor(private readonly opts: BodyTapOptions) {
    const codings = (opts.contentEncoding ?? '')
      .split(',')
      .map((c) => c.trim().toLowerCase())
      .filter((c) => c && c !== 'identity')
      .reverse();
    for (const c of codings) {
      const d = decoderFor(c);
      if (!d) {
        // Bytes in an encoding mcptap cannot read are kept raw but not handed on: fed to the JSON or SSE
        // decoder as they are, they would be reported as a body that is not JSON, which it may well be.
        this.error = `unsupported content-encoding: ${c}`;
        this.undecodable = true;
        this.chain = [];
        return;
      }
      this.chain.push(d);
    }
    if (this.chain.length === 0) return;
    decodes(1);
    // Keep the encoded bytes of a deflate body in case it turns out to be raw deflate.
    if (codings.includes('deflate')) this.raw = [];
    for (let i = 0; i < this.chain.length - 1; i++) this.chain[i].pipe(this.chain[i + 1]);
    const last = this.chain[this.chain.length - 1];
    last.on('data', (c: Buffer) => this.decoded(c));
    last.on('end', () => this.finish());
    for (const d of this.chain) d.on('error', (e) => this.onZlibError(e));
  }

  private onZlibError(e: Error): void {
    if (this.done) return;
    if (this.raw && this.decodedBytes === 0 && /header/i.test(e.message)) {
      // Raw deflate: start over with inflateRaw on the bytes seen so far.
      const rawBytes = Buffer.concat(this.raw);
      this.raw = null;
      try {
        this.decoded(zlib.inflateRawSync(rawBytes));
        this.finish();
        return;
      } catch {
        // fall through to the error below
      }
    }
    this.error = `${this.opts.contentEncoding}: ${e.message}`;
    this.finish();
  }

  private decoded(c: Buffer): void {
    // Once anything decoded, the body is not raw deflate: stop keeping encoded bytes.
    this.raw = null;
    this.decodedBytes += c.length;
    if (this.chain.length && this.opts.maxDecoded != null && this.decodedBytes > this.opts.maxDecoded && this.decodedBytes > BOMB_RATIO * this.wireBytes) return this.stopDecoding();
    if (this.keptBytes < this.opts.cap) {
      const room = this.opts.cap - this.keptBytes;
      this.keep(c.length > room ? c.subarray(0, room) : c);
      if (c.length > room) this.truncated = true;
    } else if (c.length) {
      this.truncated = true;
    }
    // The stored copy keeps the raw bytes; the decoders get only what was decoded.
    if (!this.undecodable) this.opts.onDecoded?.(c);
  }

  /**
   * Copies into one growing buffer rather than holding on to every chunk: a long stream's socket
   * buffers are then freed as soon as they are forwarded, and the end needs no concatenation.
   */
  private keep(part: Buffer): void {
    if (!part.length) return;
    if (!this.kept) {
      this.kept = part;
      this.keptBytes = part.length;
      return;
    }
    const need = this.keptBytes + part.length;
    if (!this.keptOwned || need > this.kept.length) {
      const size = Math.min(this.opts.cap, Math.max(need, 16 * 1024, this.keptOwned ? this.kept.length * 2 : need * 2));
      const grown = Buffer.allocUnsafeSlow(size);
      this.kept.copy(grown, 0, 0, this.keptBytes);
      this.kept = grown;
      this.keptOwned = true;
    }
    part.copy(this.kept, this.keptBytes);
    this.keptBytes = need;
  }

  push(chunk: Buffer): void {
    if (this.done) {
      // Stopped at maxDecoded: the rest is still counted as it passes.
      if (this.chain.length) this.wireBytes += chunk.length;
      return;
    }
    this.wireBytes += chunk.length;
    if (this.chain.length) {
      this.raw?.push(chunk);
      this.chain[0].write(chunk);
    } else {
      this.decoded(chunk);
    }
  }

  end(): void {
    if (this.done) return;
    if (this.chain.length) this.chain[0].end();
    else this.finish();
  }

  /**
   * A compressed body that decodes past maxDecoded (1.6 KB of brotli can become 1 GiB): the zlib work
   * stops, what was kept is reported cut, and nothing more reaches the decoders. The bytes on the wire
   * are not this tap's: they were forwarded whole.
   */
  private stopDecoding(): void {
    this.truncated = true;
    this.error = `${this.opts.contentEncoding}: decoded past ${this.opts.maxDecoded} bytes, the capture stopped reading it`;
    this.opts.onOverLimit?.();
    for (const d of this.chain) d.destroy();
    this.finish();
  }

  /** Stops decoding (the connection went away); what was decoded so far is reported. */
  abort(): void {
    if (this.done) return;
    if (this.chain.length) {
      for (const d of this.chain) d.destroy();
    }
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.chain.length) decodes(-1);
    const kept = this.kept ? this.kept.subarray(0, this.keptBytes) : Buffer.alloc(0);
    const text = this.keptBytes === 0 && this.wireBytes === 0 ? null : (this.truncated ? utf8Trim(kept) : kept).toString('utf8');
    this.kept = null;
    this.raw = null;
    this.opts.onEnd?.({ text, truncated: this.truncated, decodedBytes: this.decodedBytes, wireBytes: this.wireBytes, error: this.error });
  }
}
