import { createParser, type EventSourceParser } from 'eventsource-parser';
import { utf8Trim } from './utf8.js';

/**
 * Why an event is not the one a client read:
 * - `unfinished`: the stream ended before the blank line that ends it; clients drop such an event;
 * - `over-limit`: longer than the decoder's bound; `data` is its start only (`size`: characters as sent).
 */
export interface SseCut {
  kind: 'unfinished' | 'over-limit';
  size: number;
}

export interface SseEvent {
  /** `message` when the event names no type. */
  event: string;
  data: string;
  id: string | null;
  /** null for an event a client dispatched whole. */
  cut: SseCut | null;
}

/**
 * Characters of one event held for decoding, as for a JSON body (64 MB); past it the event is read cut
 * (the forwarded bytes are untouched), and, not decoded, it answers no request. The cut is made at the chunk that crosses it, so an event within one chunk of the bound
 * (sockets and inflate hand over at most 64 KB) may still be read whole.
 */
export const SSE_EVENT_LIMIT = 64 * 1024 * 1024;

const LF = 10;
const CR = 13;

/** A blank line ends between a and b: a line ended with `a` and the next one is empty (CR LF is one ending). */
const blankBetween = (a: number, b: number) => (a === LF && (b === LF || b === CR)) || (a === CR && b === CR);

/** Index just after the first blank line in `s` (given the character before it), or -1. */
function firstBlankEnd(prev: number, s: string): number {
  if (blankBetween(prev, s.charCodeAt(0))) return 1;
  let best = -1;
  for (const p of ['\n\n', '\n\r', '\r\r']) {
    const i = s.indexOf(p);
    if (i >= 0 && (best < 0 || i + 2 < best)) best = i + 2;
  }
  return best;
}

/** Index just after the last blank line in `s` (given the character before it), or -1. */
function lastBlankEnd(prev: number, s: string): number {
  let best = -1;
  for (const p of ['\n\n', '\n\r', '\r\r']) {
    const i = s.lastIndexOf(p);
    if (i >= 0 && i + 2 > best) best = i + 2;
  }
  if (best > 0) return best;
  return blankBetween(prev, s.charCodeAt(0)) ? 1 : -1;
}

/**
 * Incremental SSE decoding over raw chunks, reading what an EventSource (or the MCP SDK's
 * TextDecoderStream + EventSourceParserStream) reads: a leading UTF-8 BOM is dropped, and an event the
 * stream ends inside is still reported, marked `unfinished`, because clients drop it and that is a fact
 * worth showing. An event longer than `limit` characters is reported once, cut, instead of being held
 * whole. A multibyte character that a chunk boundary splits is kept back until its last byte arrives,
 * so the result does not depend on how bytes were split. (Done here rather than with a TextDecoder: one
 * per response stream was a measurable part of the capture's cost per call.)
 */
export class SseDecoder {
  private readonly parser: EventSourceParser;
  /** The first bytes of a character that the last chunk cut. */
  private carry: Buffer | null = null;
  private started = false;
  /** The last character fed, as a code (0 before any). */
  private last = 0;
  /** The text of the current event so far (since the last blank line), while under the limit. */
  private pending: string[] = [];
  private pendingChars = 0;
  /** The start of an over-limit event, read from its first `limit` characters, until its end arrives. */
  private skipping: SseEvent | null = null;
  /** Events dispatched while this is set are the one the stream ended inside. */
  private unfinished: number | null = null;

  /** `onComment`: a comment line (`: ping`), the usual keep-alive. */
  constructor(private readonly onEvent: (e: SseEvent) => void, onComment?: () => void, private readonly limit = SSE_EVENT_LIMIT) {
    this.parser = createParser({
      onComment: onComment ? () => onComment() : undefined,
      onEvent: (e) => {
        const cut: SseCut | null = this.unfinished == null ? null : { kind: 'unfinished', size: this.unfinished };
        this.onEvent({ event: e.event ?? 'message', data: e.data, id: e.id ?? null, cut });
      },
    });
  }

  push(chunk: Buffer | Uint8Array | string): void {
    let s = typeof chunk === 'string' ? chunk : this.decode(chunk);
    if (!s) return;
    if (!this.started) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      if (!s) return;
    }
    if (this.skipping) {
      s = this.skipTo(s);
      if (!s) return;
    }
    this.parser.feed(s);
    const end = lastBlankEnd(this.last, s);
    this.last = s.charCodeAt(s.length - 1);
    if (end >= 0) {
      const rest = s.slice(end);
      this.pending = rest ? [rest] : [];
      this.pendingChars = rest.length;
    } else {
      this.pending.push(s);
      this.pendingChars += s.length;
      if (this.pendingChars > this.limit) this.startSkipping();
    }
  }

  /** The event is past the limit: read its start, drop what the parser holds, and wait for its end. */
  private startSkipping(): void {
    const start = this.pending.join('').slice(0, this.limit);
    let head: SseEvent = { event: 'message', data: '', id: null, cut: null };
    createParser({ onEvent: (e) => (head = { event: e.event ?? 'message', data: e.data, id: e.id ?? null, cut: null }) }).feed(`${start}\n\n`);
    this.skipping = { ...head, cut: { kind: 'over-limit', size: this.pendingChars } };
    this.parser.reset();
    this.pending = [];
    this.pendingChars = 0;
  }

  /** Skips the rest of an over-limit event; returns what follows its end ('' while it goes on). */
  private skipTo(s: string): string {
    const ev = this.skipping!;
    const end = firstBlankEnd(this.last, s);
    if (end < 0) {
      ev.cut!.size += s.length;
      this.last = s.charCodeAt(s.length - 1);
      return '';
    }
    ev.cut!.size += end;
    this.skipping = null;
    this.last = s.charCodeAt(end - 1);
    this.onEvent(ev);
    return s.slice(end);
  }

  private decode(chunk: Buffer | Uint8Array): string {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.carry) {
      buf = Buffer.concat([this.carry, buf]);
      this.carry = null;
    }
    const whole = utf8Trim(buf);
    if (whole.length < buf.length) this.carry = Buffer.from(buf.subarray(whole.length));
    return whole.toString('utf8');
  }

  end(): void {
    // Bytes of a character that never finished decode as the replacement character, as a TextDecoder's would.
    const tail = this.carry ? this.carry.toString('utf8') : '';
    this.carry = null;
    if (tail) this.push(tail);
    if (this.skipping) {
      const ev = this.skipping;
      this.skipping = null;
      this.onEvent(ev);
      return;
    }
    // A stream that ended on a blank line may leave the parser waiting on a CR (is an LF next?): one LF
    // settles it. Otherwise what the parser holds is an event the client never dispatched.
    const settled = this.pendingChars === 0 || /^[\r\n]*$/.test(this.pending.join(''));
    this.unfinished = settled ? null : this.pendingChars;
    this.parser.feed(settled ? '\n' : '\n\n');
    this.unfinished = null;
    this.pending = [];
    this.pendingChars = 0;
  }
}

/**
 * A GET answered with an event stream that no Streamable HTTP client asked for: the legacy HTTP+SSE
 * transport's stream. A Streamable HTTP client sends Mcp-Session-Id, or MCP-Protocol-Version (2025-06-18 on)
 * on every request after initialize, its standalone stream to a stateless server included; a 2024-11-05
 * client sends neither. `requestHeader` and `responseType` read the exchange's headers (names lower-case).
 */
export function isLegacySseStream(method: string, requestHeader: (name: string) => unknown, responseType: string): boolean {
  return method === 'GET' && responseType === 'text/event-stream' && !requestHeader('mcp-session-id') && !requestHeader('mcp-protocol-version');
}
