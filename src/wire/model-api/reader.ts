import { SseDecoder } from '../sse.js';
import { AnthropicReader } from './anthropic.js';
import { OpenAiChatReader } from './openai-chat.js';
import { OpenAiResponsesReader } from './openai-responses.js';
import { parseJson, type ModelApi, type ModelResponse } from './types.js';

/** One API's reading of an answer: its stream events one by one, or its whole JSON body. */
export interface ResponseReader {
  readonly result: ModelResponse;
  /** One SSE event's data, parsed (undefined when it is not JSON), and as sent. */
  event(data: unknown, raw: string): void;
  body(data: unknown): void;
  /** No more input: close what is still open. */
  end(): void;
}

function readerFor(api: ModelApi): ResponseReader {
  if (api === 'openai-chat') return new OpenAiChatReader();
  if (api === 'openai-responses') return new OpenAiResponsesReader();
  return new AnthropicReader();
}

/** JSON answers are read whole; one larger than this is left undecoded (its stored copy stays). */
const JSON_LIMIT = 16 * 1024 * 1024;

/**
 * Incremental decoding of a model API answer from its (content-decoded) bytes: SSE events are read as
 * they arrive, a JSON body at its end. The result is the same however the bytes were split.
 */
export class ModelResponseDecoder {
  private readonly reader: ResponseReader;
  private readonly sse: SseDecoder | null;
  private json: Buffer[] | null = null;
  private jsonBytes = 0;
  private result: ModelResponse | null = null;

  constructor(api: ModelApi, contentType: string) {
    this.reader = readerFor(api);
    if (contentType === 'text/event-stream') {
      this.sse = new SseDecoder((e) => {
        // An event the client never dispatched (the stream ended inside it) or read cut is not part of the turn.
        if (e.data === '' || e.cut) return;
        this.reader.event(parseJson(e.data), e.data);
      });
    } else {
      this.sse = null;
      this.json = [];
    }
  }

  push(chunk: Buffer): void {
    if (this.sse) this.sse.push(chunk);
    else if (this.json && (this.jsonBytes += chunk.length) <= JSON_LIMIT) this.json.push(chunk);
  }

  end(): ModelResponse {
    if (this.result) return this.result;
    if (this.sse) this.sse.end();
    else if (this.json && this.jsonBytes > 0 && this.jsonBytes <= JSON_LIMIT) {
      const text = Buffer.concat(this.json).toString('utf8');
      const v = parseJson(text);
      if (v !== undefined) this.reader.body(v);
      else if (text.trim()) this.reader.result.error ??= { type: 'non-json', message: text.trim().slice(0, 200) };
    }
    this.json = null;
    this.reader.end();
    this.result = this.reader.result;
    return this.result;
  }
}
