import { createParser, type EventSourceParser } from 'eventsource-parser';

export interface SseEvent {
  /** `message` when the event names no type. */
  event: string;
  data: string;
  id: string | null;
}

/**
 * Incremental SSE decoding over raw chunks. The TextDecoder keeps a multibyte character that a chunk
 * boundary splits until its last byte arrives, so the result does not depend on how bytes were split.
 */
export class SseDecoder {
  private readonly parser: EventSourceParser;
  private readonly text = new TextDecoder('utf-8');
  /** The last few characters seen: the stream is inside an event unless they end in a blank line. */
  private tail = '';
  eventCount = 0;
  readonly errors: string[] = [];

  constructor(private readonly onEvent: (e: SseEvent) => void) {
    this.parser = createParser({
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
    const s = typeof chunk === 'string' ? chunk : this.text.decode(chunk, { stream: true });
    if (!s) return;
    this.tail = s.length >= 4 ? s.slice(-4) : (this.tail + s).slice(-4);
    this.parser.feed(s);
  }

  end(): void {
    const tail = this.text.decode();
    if (tail) {
      this.tail = (this.tail + tail).slice(-4);
      this.parser.feed(tail);
    }
    if (this.tail && !/(\n\n|\r\r|\r\n\r\n)$/.test(this.tail)) this.errors.push('stream ended inside an event');
    this.tail = '';
  }
}
