import { clientNameOf } from '../wire/mcp-2026.js';
import type { CaptureHub } from './hub.js';
import type { Channel, Exchange, Failure, HeaderList, Session } from '../model/model.js';
import type { Rewrite } from '../model/facts.js';
import type { Redactor } from './redact.js';
import type { SessionTracker } from './tracker.js';
import type { ConversationTracker } from './conversations.js';
import type { StreamTracker } from './streams.js';
import type { CaptureLimits } from './limits.js';
import { ModelTurnCapture } from './model-exchange.js';
import { recordHead, recordRewrite } from './new-exchange.js';
import { modelApiOfUrl } from '../wire/model-api/detect.js';
import { parseJson, type ModelApi } from '../wire/model-api/types.js';
import { header, mediaType } from '../model/headers.js';
import { BodyTap, type BodyResult } from '../wire/body.js';
import { isLegacySseStream, SSE_EVENT_LIMIT, SseDecoder, type SseEvent } from '../wire/sse.js';
import { decodeJsonRpcText, type DecodedMessage } from '../wire/jsonrpc.js';
import { legacySessionIdOf } from '../wire/legacy-endpoint.js';

export interface CaptureContext {
  hub: CaptureHub;
  tracker: SessionTracker;
  conversations: ConversationTracker;
  redactor: Redactor;
  maxBody: number;
  /** Stored copy cap for a text/event-stream response body. */
  maxStreamBody: number;
  /** Stream facts (event-stream responses); absent where nothing reads them. */
  streams?: StreamTracker;
  /** Bounds on what the capture keeps of hostile input; absent: none. */
  limits?: CaptureLimits;
}

/** JSON bodies are decoded whole; past this size they are stored (capped) but not decoded. */
const DECODE_LIMIT = 64 * 1024 * 1024;

/**
 * The capture side of one HTTP exchange. Every method runs from the capture queue, never on the
 * forwarding path. It decodes the request body, then the response (a JSON body or an SSE stream),
 * and hands messages to the tracker once the exchange's session is known: that needs both the request
 * body (is it `initialize`?) and the response head (did the server issue `Mcp-Session-Id`?), unless the
 * request names a session the tracker already knows (see placedByRequest).
 */
export class HttpExchangeCapture {
  private session: Session | null = null;
  private waiting: Array<() => void> = [];
  private requestTap: BodyTap;
  private responseTap: BodyTap | null = null;
  private requestText: Buffer[] = [];
  private requestBytes = 0;
  private requestMessages: DecodedMessage[] = [];
  /** Decided by the body's first bytes (mayBeRpc): held for decoding, or not. */
  private requestShape: 'kept' | 'skipped' | null = null;
  private requestDone = false;
  /** The request's last byte came; an encoded body may still be decoding. */
  private requestEnded = false;
  /** The exchange ended while its request body was still decoding: finish once it is decoded. */
  private finishAt: number | null = null;
  private headDone = false;
  private sse: SseDecoder | null = null;
  private responseJson: Buffer[] | null = null;
  private responseJsonBytes = 0;
  private lastChunkAt = 0;
  private mcp = false;
  /** The request carried JSON-RPC messages. */
  private sentRpc = false;
  /** The request was a server/discover probe: its refusal is no error of the session. */
  private probe = false;
  private finished = false;
  /** Messages stored from this exchange, against limits.maxMessages. */
  private messageCount = 0;
  /** This exchange holds one of limits' event-stream slots (released when it finishes). */
  private streamSlot = false;
  /** The model API the URL names (decided by the body), and its capture once the body confirms it. */
  private readonly modelApi: ModelApi | null;
  private model: ModelTurnCapture | null = null;
  private responseType = '';

  constructor(
    private readonly ctx: CaptureContext,
    readonly exchange: Exchange,
    private readonly rawRequestHeaders: HeaderList,
    private readonly clientKey: string,
    private readonly legacySessionId: string | null,
    /** The upstream of the proxy route that carried it, when the proxy serves several. */
    private readonly route: string | null = null,
    /** That route's name: the label of the sessions it carries. */
    private readonly routeName: string | null = null,
  ) {
    this.modelApi = modelApiOfUrl(exchange.method, exchange.url);
    this.requestTap = new BodyTap({
      contentEncoding: header(rawRequestHeaders, 'content-encoding'),
      cap: ctx.maxBody,
      maxDecoded: ctx.limits?.max.maxDecoded,
      onOverLimit: () => ctx.limits?.hit('decoded'),
      onDecoded: (c) => {
        this.requestBytes += c.length;
        if (this.requestBytes <= DECODE_LIMIT && this.mayBeRpc(c)) this.requestText.push(c);
      },
      onEnd: (r) => this.onRequestBody(r),
    });
  }

  requestChunk(chunk: Buffer): void {
    this.requestTap.push(chunk);
  }

  requestEnd(): void {
    this.requestEnded = true;
    this.requestTap.end();
  }

  private onRequestBody(r: BodyResult): void {
    const ex = this.exchange;
    ex.requestBytes = r.wireBytes;
    const kept = this.budgeted(r.text);
    ex.requestBody = kept.text == null ? null : this.ctx.redactor.text(kept.text);
    ex.requestTruncated = r.truncated || kept.cut;
    if (r.error) ex.failure ??= { kind: 'decoding-failed', body: 'request', detail: r.error };
    const decodable = this.requestBytes > 0 && this.requestBytes <= DECODE_LIMIT;
    const text = decodable ? Buffer.concat(this.requestText).toString('utf8') : '';
    // A path a model API uses (the legacy transport's /messages is one): parsed once for both readers.
    const parsed = decodable && this.modelApi ? parseJson(text) : undefined;
    if (this.modelApi && decodable) {
      this.model = ModelTurnCapture.start(this.ctx.conversations, ex, this.modelApi, text, ex.requestBody, parsed);
      if (this.model && this.headDone) this.model.head(this.responseType);
    }
    if (!this.model && decodable) {
      const decoded = decodeJsonRpcText(text, parsed === undefined ? undefined : { value: parsed });
      // A JSON body that is not JSON-RPC (a model API call through the same gateway) is plain HTTP;
      // a broken body sent the way MCP clients send is still shown, as the error it is.
      if (decoded.some((d) => looksLikeRpc(d.value)) || this.hasMcpHeaders() || this.acceptsEventStream()) {
        this.requestMessages = decoded;
      }
    }
    this.requestText = [];
    this.requestDone = true;
    // The first publish: the request whole (and its session, when the request alone places it).
    if (!this.maybeAssign()) this.ctx.hub.emit('exchange', ex);
    if (this.finishAt !== null) this.finish(this.finishAt);
  }

  /**
   * Whether a request body is worth holding for the JSON-RPC decoder: JSON (its first byte `{` or `[`),
   * or anything sent the way MCP clients send (shown as the broken message it is). Twenty 8 MB
   * text/plain POSTs from a page were all held whole only to be found not JSON.
   */
  private mayBeRpc(c: Buffer): boolean {
    if (this.requestShape === null) {
      const first = c.toString('latin1', 0, Math.min(c.length, 64)).trimStart()[0];
      if (first === undefined) return true;
      this.requestShape = first === '{' || first === '[' || !!this.modelApi || this.hasMcpHeaders() || this.acceptsEventStream() ? 'kept' : 'skipped';
    }
    return this.requestShape === 'kept';
  }

  private hasMcpHeaders(): boolean {
    const h = this.rawRequestHeaders;
    return !!(header(h, 'mcp-session-id') || header(h, 'mcp-protocol-version') || header(h, 'mcp-method') || this.legacySessionId);
  }

  private acceptsEventStream(): boolean {
    return (header(this.rawRequestHeaders, 'accept') ?? '').includes('text/event-stream');
  }

  responseHead(status: number, headers: HeaderList, at: number): void {
    const ex = this.exchange;
    recordHead(ex, this.ctx.redactor, status, headers, at);
    this.statusAfterAssign(status);
    const type = mediaType(header(headers, 'content-type'));
    this.responseType = type;
    this.model?.head(type);
    if (this.model) {
      // A model API answer is read by its own decoder only.
    } else if (type === 'text/event-stream' && !this.streamRefused()) {
      this.sse = new SseDecoder((e) => this.onSseEvent(e), () => this.ctx.streams?.event(ex.id, 'keepalive', this.lastChunkAt));
      this.ctx.streams?.opened(ex, ex.method === 'GET' ? 'get-sse' : 'post-sse', at);
    } else if (type.includes('json')) {
      this.responseJson = [];
    }
    this.responseTap = new BodyTap({
      contentEncoding: header(headers, 'content-encoding'),
      // A stream past the open-stream limits keeps no more of its raw copy than a decoded one.
      cap: this.sse || (type === 'text/event-stream' && !this.model) ? this.ctx.maxStreamBody : this.ctx.maxBody,
      maxDecoded: this.ctx.limits?.max.maxDecoded,
      onOverLimit: () => this.ctx.limits?.hit('decoded'),
      onDecoded: (c) => {
        this.model?.chunk(c);
        if (this.sse) this.sse.push(c);
        else if (this.responseJson) {
          this.responseJsonBytes += c.length;
          if (this.responseJsonBytes <= DECODE_LIMIT) this.responseJson.push(c);
        }
      },
      onEnd: (r) => this.onResponseBody(r),
    });
    this.headDone = true;
    // One publish for the head and, usually, the session it placed the exchange in.
    if (!this.maybeAssign()) this.ctx.hub.emit('exchange', ex);
  }

  responseChunk(chunk: Buffer, at: number): void {
    this.lastChunkAt = at;
    this.ctx.streams?.bytes(this.exchange.id, chunk.length, at);
    this.responseTap?.push(chunk);
  }

  responseEnd(at: number): void {
    this.lastChunkAt = at;
    this.exchange.closedBy ??= 'server';
    if (this.responseTap) this.responseTap.end();
    else this.finish(at);
  }

  /** The upstream failed (refused, reset, cut the body) or the client went away (`client-aborted`). */
  fail(failure: Failure, at: number): void {
    const ex = this.exchange;
    const aborted = failure.kind === 'client-aborted';
    ex.failure ??= failure;
    if (aborted) ex.aborted = true;
    ex.closedBy ??= aborted ? 'client' : 'server';
    this.lastChunkAt = at;
    if (!this.requestDone) this.requestTap.abort();
    if (this.responseTap) this.responseTap.abort();
    this.finish(at);
  }

  /** A blind CONNECT tunnel ended (forward mode): only its byte counts are known, nothing of what it carried. */
  tunnelClosed(requestBytes: number, responseBytes: number, by: 'client' | 'server', at: number): void {
    const ex = this.exchange;
    ex.requestBytes = requestBytes;
    ex.responseBytes = responseBytes;
    ex.closedBy ??= by;
    this.lastChunkAt = at;
    this.finish(at);
  }

  /**
   * The proxy answered in the upstream's place (502 when it is unreachable). The answer is stored on the
   * exchange but not decoded: it is mcptap's own JSON, not a message from the server.
   */
  answeredByProxy(status: number, headers: HeaderList, body: string, failure: Failure, at: number): void {
    const ex = this.exchange;
    ex.status = status;
    ex.firstByteAt = at;
    ex.responseHeaders = headers;
    // It names the upstream, whose URL can hold a key.
    ex.responseBody = this.ctx.redactor.text(body);
    ex.responseBytes = Buffer.byteLength(body);
    this.headDone = true;
    this.statusAfterAssign(status);
    this.fail(failure, at);
  }

  private onResponseBody(r: BodyResult): void {
    const ex = this.exchange;
    ex.responseBytes = r.wireBytes;
    // An event stream's events were scanned as messages already: its body reuses those scans.
    const kept = this.budgeted(r.text);
    ex.responseBody = kept.text == null ? null : this.sse ? this.ctx.redactor.eventStream(kept.text) : this.ctx.redactor.text(kept.text);
    ex.responseTruncated = r.truncated || kept.cut;
    if (r.error) ex.failure ??= { kind: 'decoding-failed', body: 'response', detail: r.error };
    if (this.sse) this.sse.end();
    if (this.responseJson && this.responseJsonBytes > 0 && this.responseJsonBytes <= DECODE_LIMIT) {
      const decoded = decodeJsonRpcText(Buffer.concat(this.responseJson).toString('utf8'));
      this.responseJson = null;
      const at = this.lastChunkAt || ex.firstByteAt || ex.startedAt;
      this.whenAssigned(() => {
        // JSON that is not JSON-RPC is a message (an invalid one) only where JSON-RPC was due: the answer
        // to a JSON-RPC request that succeeded. An OAuth 401's {"error": "invalid_token"}, a framework's
        // {"detail": "Not Found"} or an OAuth metadata document is the HTTP answer it is, on the exchange.
        const rpc = decoded.some((d) => looksLikeRpc(d.value));
        const errorStatus = ex.status != null && ex.status >= 400;
        const broken = decoded.some((d) => d.value === undefined);
        if (rpc || (this.sentRpc && !errorStatus) || (this.mcp && broken)) this.record('server->client', 'response-body', decoded, at, null);
      });
    }
    // Encoded bodies finish decoding after the exchange may have ended: then this is the final state's publish.
    if (this.finished) this.ctx.hub.emit('exchange', ex);
    else this.finish(this.lastChunkAt);
  }

  /** The proxy changed what it passed on (src/proxy/transforms.ts): recorded on the exchange, its URLs redacted. */
  rewrote(change: Rewrite): void {
    recordRewrite(this.exchange, this.ctx.redactor, change);
    // A held answer is decided after the server's bytes ended the exchange: the change is published anew.
    if (this.finished) this.ctx.hub.emit('exchange', this.exchange);
  }

  /** A message the proxy itself wrote on this event stream (an answer given at the intercept). */
  injected(text: string, at: number): void {
    this.whenAssigned(() => this.record('server->client', this.sseChannel(), decodeJsonRpcText(text), at, null));
  }

  private onSseEvent(e: SseEvent): void {
    const at = this.lastChunkAt;
    const ex = this.exchange;
    const keepAlive = () => this.ctx.streams?.event(ex.id, 'keepalive', at);
    if (e.cut?.kind === 'over-limit') return this.overLimitEvent(e);
    if (e.event === 'endpoint') {
      keepAlive();
      // An endpoint event the stream ended inside never reached the client: no session was announced.
      if (e.cut) return;
      const legacyId = legacySessionIdOf(e.data);
      this.whenAssigned(() => {
        if (legacyId && this.session) this.ctx.tracker.bindLegacy(this.session.id, legacyId);
      });
      return;
    }
    // Empty events prime a stream for resumption; they carry no message. A model API's events are its turn.
    if (e.data.trim() === '' || this.model) return void keepAlive();
    const decoded = decodeJsonRpcText(e.data);
    if (e.event !== 'message') {
      // Clients read only unnamed and "message" events (the SDK, Claude Code). Another name with no
      // JSON-RPC in it (sse-starlette's "event: ping" with a timestamp) is no message; JSON-RPC under
      // another name is one that no client will read: recorded, as the invalid message it is.
      if (!decoded.some((d) => looksLikeRpc(d.value))) return void keepAlive();
      for (const d of decoded) {
        d.kind = 'invalid';
        d.decodeError = { kind: 'unread-sse-event', detail: e.event };
      }
    }
    if (e.cut) {
      // The stream ended before the blank line that dispatches the event: clients drop it unread.
      for (const d of decoded) {
        d.kind = 'invalid';
        d.decodeError = { kind: 'unfinished-sse-event', detail: `${e.cut.size} characters` };
      }
    }
    this.ctx.streams?.event(ex.id, 'message', at);
    this.whenAssigned(() => this.record('server->client', this.sseChannel(), decoded, at, e.id));
  }

  private sseChannel(): Channel {
    return this.exchange.method === 'GET' ? 'get-sse' : 'response-sse';
  }

  /** An event past the decoder's bound: stored cut as the start it had, not decoded (it was forwarded whole). */
  private overLimitEvent(e: SseEvent): void {
    const at = this.lastChunkAt;
    const size = e.cut!.size;
    const d: DecodedMessage = {
      kind: 'non-json', rpcId: null, method: null, subject: null, isError: false, errorCode: null,
      decodeError: { kind: 'over-limit', detail: `an SSE event of ${size} characters, over the ${SSE_EVENT_LIMIT}-character decoding limit: stored cut, not decoded` },
      value: undefined, text: e.data, batchIndex: null, size,
    };
    this.ctx.streams?.event(this.exchange.id, 'message', at);
    this.whenAssigned(() => this.record('server->client', this.sseChannel(), [d], at, e.id));
  }

  /** Past the open-stream limits a stream is forwarded, its head recorded, its events not decoded. */
  private streamRefused(): boolean {
    if (!this.ctx.limits) return false;
    this.streamSlot = this.ctx.limits.openStream(this.clientKey);
    return !this.streamSlot;
  }

  /** A body as this minute's stored-bytes budgets let it be stored. */
  private budgeted(text: string | null): { text: string | null; cut: boolean } {
    return this.ctx.limits ? this.ctx.limits.budget(this.clientKey, text) : { text, cut: false };
  }

  private record(direction: 'client->server' | 'server->client', channel: Channel, decoded: DecodedMessage[], at: number, eventId: string | null): void {
    if (!this.session || decoded.length === 0) return;
    const max = this.ctx.limits?.max.maxMessages;
    if (max != null && this.messageCount + decoded.length > max) {
      // 416 bytes of brotli can carry half a million tiny events: past the bound they pass unrecorded.
      this.ctx.limits!.hit('messages', decoded.length);
      return;
    }
    this.messageCount += decoded.length;
    this.ctx.tracker.record(this.session.id, this.exchange.id, direction, channel, decoded, at, eventId);
  }

  private whenAssigned(step: () => void): void {
    if (this.session) step();
    else this.waiting.push(step);
  }

  /**
   * A request naming a session the proxy knows (a legacy sessionId, an Mcp-Session-Id) is placed by its
   * request alone, so it is recorded as soon as its body ends: the answer to it may come back on another
   * connection (the legacy GET stream) before this POST's 202, or after the client closed that stream.
   */
  private placedByRequest(): boolean {
    if (this.model) return false;
    return !!header(this.rawRequestHeaders, 'mcp-session-id') || (!!this.legacySessionId && this.ctx.tracker.knowsLegacy(this.legacySessionId));
  }

  /** A status that arrives after the exchange was placed still counts against its session. */
  private statusAfterAssign(status: number): void {
    if (this.session && !this.model && status >= 400) this.ctx.tracker.noteStatus(this.session.id, status, this.probe);
  }

  /** Places the exchange in its session once enough is known; `publish`: unless the caller publishes next. */
  /** Places the exchange in its session once it can (publishing it, unless `publish` is false); true when it did now. */
  private maybeAssign(force = false, publish = true): boolean {
    if (this.session) return false;
    if (!force && !(this.requestDone && (this.headDone || this.placedByRequest()))) return false;
    const ex = this.exchange;
    const respHeaders = ex.responseHeaders;
    const responseType = mediaType(header(respHeaders, 'content-type'));
    const isStream = ex.method === 'GET' && responseType === 'text/event-stream';
    const requestSessionId = header(this.rawRequestHeaders, 'mcp-session-id');
    this.mcp = this.requestMessages.length > 0 || this.hasMcpHeaders() || isStream ||
      !!header(respHeaders, 'mcp-session-id') ||
      this.acceptsEventStream();
    this.session = this.model ? this.ctx.conversations.assign(ex, this.rawRequestHeaders, this.model.request, this.clientKey, this.route, this.routeName) : this.ctx.tracker.assign({
      exchange: ex,
      requestSessionId,
      responseSessionId: header(respHeaders, 'mcp-session-id'),
      legacySessionId: this.legacySessionId,
      hasInitialize: this.requestMessages.some((m) => m.kind === 'request' && m.method === 'initialize'),
      hasProbe: (this.probe = this.requestMessages.some((m) => m.kind === 'request' && m.method === 'server/discover')),
      isMcp: this.mcp,
      isLegacyStream: isLegacySseStream(ex.method, (name) => header(this.rawRequestHeaders, name), responseType),
      clientKey: this.clientKey,
      clientName: clientNameOf(this.requestMessages.map((m) => m.value)),
      connection: ex.clientAddress,
      target: this.route,
      routeName: this.routeName,
    });
    // Published before its messages: whoever reads a message (live telemetry's trace context) finds its exchange.
    if (publish) this.ctx.hub.emit('exchange', ex);
    this.record('client->server', 'request-body', this.requestMessages, ex.startedAt, null);
    this.sentRpc = this.requestMessages.length > 0;
    this.requestMessages = [];
    const steps = this.waiting;
    this.waiting = [];
    for (const s of steps) s();
    return true;
  }

  private finish(at: number): void {
    if (this.finished) return;
    // A gzip request body can take longer to decode than the upstream takes to answer: its messages
    // (the tools/call) come first, so the end waits for them rather than placing the exchange without.
    if (!this.requestDone && this.requestEnded) {
      this.finishAt = at;
      return;
    }
    this.finished = true;
    const ex = this.exchange;
    ex.endedAt = at || ex.startedAt;
    if (!this.requestDone) {
      this.requestDone = true;
    }
    this.maybeAssign(true, false);
    this.ctx.streams?.closed(ex.id, ex.closedBy, ex.endedAt);
    if (this.streamSlot) this.ctx.limits!.closeStream(this.clientKey);
    this.model?.end(ex.endedAt);
    const s = this.session;
    if (s && !this.model) this.ctx.tracker.exchangeEnded(s.id, ex.endedAt);
    if (s) {
      if (ex.method === 'DELETE' && ex.status != null && ex.status < 300) this.ctx.tracker.end(s.id, 'delete', ex.endedAt);
      else if (s.transport === 'sse' && ex.method === 'GET' && mediaType(header(ex.responseHeaders, 'content-type')) === 'text/event-stream') {
        this.ctx.tracker.end(s.id, 'stream-closed', ex.endedAt);
      }
    }
    this.ctx.hub.emit('exchange', ex);
  }
}

/** JSON-RPC, or close enough that a broken client or server meant it to be. */
function looksLikeRpc(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(looksLikeRpc);
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return 'jsonrpc' in o || typeof o.method === 'string' || ('id' in o && ('result' in o || 'error' in o));
}
