import { createParser, type EventSourceParser } from 'eventsource-parser';
import { utf8Trim } from './utf8.js';

export interface SseEvent {
  /** `message` when the event names no type. */
  event: string;
  data: string;
  id: string | null;
}

/**
 * Incremental SSE decoding over raw chunks. A multibyte character that a chunk boundary splits is
 * kept back until its last byte arrives, so the result does not depend on how bytes were split.
 * (Done here rather than with a TextDecoder: one per response stream was a measurable part of the
 * capture's cost per call.)
 */
export class SseDecoder {
  private readonly parser: EventSourceParser;
  /** The first bytes of a character that the last chunk cut. */
  private carry: Buffer | null = null;
  /** The last few characters seen: the stream is inside an event unless they end in a blank line. */
  private tail = '';
  eventCount = 0;
  readonly errors: string[] = [];

  /** `onComment`: a comment line (`: ping`), the usual keep-alive. */
  constructor(private readonly onEvent: (e: SseEvent) => void, onComment?: () => void) {
    this.parser = createParser({
      onComment: onComment ? () => onComment() : undefined,
      onEvent: (e) => {
        this.eventCount++;
        this.onEvent({ event: e.event ?? 'message', data: e.data, id: e.id ?? null });
      },
      onError: (err) => {
        if (this.errors.length < 20) this.errors.push(err.message.split('\n')[0]);
      },
    });
  }

  push(chunk: Buffer | Uint8Array | string): void {
    const s = typeof chunk === 'string' ? chunk : this.decode(chunk);
    if (!s) return;
    this.tail = s.length >= 4 ? s.slice(-4) : (this.tail + s).slice(-4);
    this.parser.feed(s);
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
    if (tail) {
      this.tail = (this.tail + tail).slice(-4);
      this.parser.feed(tail);
    }
    if (this.tail && !/(\n\n|\r\r|\r\n\r\n)$/.test(this.tail)) this.errors.push('stream ended inside an event');
    this.tail = '';
  }
}
