import { decodeJsonRpcText, type DecodedMessage } from './jsonrpc.js';

/** Lines are decoded whole up to this size; past it they are counted and recorded as not decoded. */
export const LINE_DECODE_LIMIT = 64 * 1024 * 1024;

export interface Line {
  /** The line without its newline (and `\r`), or its first `limit` bytes when it was longer. */
  bytes: Buffer;
  /** Bytes of the line on the wire, without its newline. */
  size: number;
  /** The line was longer than the limit: `bytes` is its head only. */
  cut: boolean;
  /** The stream ended without a newline after this line (the peer never finished it). */
  unterminated: boolean;
}

/**
 * Splits a byte stream into lines, incrementally: the same lines come out however the input is chunked.
 * Only the new chunk is searched for a newline, so a long line costs one pass, and past the limit a line
 * is counted, not held.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private size = 0;

  constructor(private readonly onLine: (line: Line) => void, private readonly limit = LINE_DECODE_LIMIT) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.take(chunk.subarray(start, nl));
      this.emit(false);
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
  }

  /** The stream ended: a last line without its newline is still a line. */
  end(): void {
    if (this.size > 0) this.emit(true);
  }

  private take(b: Buffer): void {
    this.size += b.length;
    const room = Math.min(this.limit - this.held, b.length);
    if (room <= 0) return;
    // A copy: the caller's chunk may be reused once push returns.
    this.parts.push(Buffer.from(b.subarray(0, room)));
    this.held += room;
  }

  private emit(unterminated: boolean): void {
    let size = this.size;
    const cut = size > this.limit;
    let bytes = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    this.held = 0;
    this.size = 0;
    if (!cut && bytes.length > 0 && bytes[bytes.length - 1] === 13) {
      bytes = bytes.subarray(0, bytes.length - 1);
      size--;
    }
    this.onLine({ bytes, size, cut, unterminated });
  }
}

/**
 * Newline-delimited JSON-RPC, as MCP's stdio transport frames it: one message (or batch) per line.
 * Blank lines carry nothing (the SDKs skip them too); anything else that is not JSON-RPC comes out as
 * one `non-json` or `invalid` message with the raw text.
 */
export class NdjsonDecoder {
  private readonly lines: LineSplitter;

  constructor(onMessages: (messages: DecodedMessage[], line: Line) => void, limit = LINE_DECODE_LIMIT) {
    this.lines = new LineSplitter((line) => {
      if (line.cut) return onMessages([tooLong(line, limit)], line);
      const text = line.bytes.toString('utf8');
      if (!/\S/.test(text)) return;
      onMessages(decodeJsonRpcText(text), line);
    }, limit);
  }

  push(chunk: Buffer): void {
    this.lines.push(chunk);
  }

  end(): void {
    this.lines.end();
  }
}

function tooLong(line: Line, limit: number): DecodedMessage {
  return {
    kind: 'non-json', rpcId: null, method: null, subject: null, isError: false, errorCode: null,
    decodeError: { kind: 'over-limit', detail: `a line of ${line.size} bytes, over the ${limit}-byte decoding limit: stored cut, not decoded` },
    value: undefined, text: line.bytes.toString('utf8'), batchIndex: null, size: line.size,
  };
}
