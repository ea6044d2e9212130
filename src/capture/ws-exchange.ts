import { isUtf8 } from 'node:buffer';
import type { CaptureContext } from './http-exchange.js';
import { header } from '../model/headers.js';
import type { Direction, Exchange, Failure, HeaderList, Rewrite, Session } from '../model/model.js';
import { newExchange, recordHead, recordRewrite, type ExchangeStart } from './new-exchange.js';
import { decodeJsonRpcText } from '../wire/jsonrpc.js';
import { utf8Prefix } from '../wire/utf8.js';
import { negotiatedDeflate, WsFrameDecoder, type WsMessage } from '../wire/ws-frames.js';

const side = (d: Direction) => (d === 'client->server' ? 'client' : 'server');

/**
 * The capture side of one WebSocket connection, the counterpart of HttpExchangeCapture: the relay
 * (src/proxy/ws-bridge.ts) hands it what happened, from the capture queue, and it keeps the exchange,
 * the session and the frame readers. A connection is one session for its whole life.
 */
export class WebSocketCapture {
  readonly exchange: Exchange;
  private session: Session | null = null;
  private decoders: Record<Direction, WsFrameDecoder> | null = null;
  /** A close frame was seen from this side. */
  private closeFrom: Record<Direction, boolean> = { 'client->server': false, 'server->client': false };
  /** When the chunk that completed the message being recorded arrived. */
  private at = 0;
  /** Messages stored from this connection, against limits.maxMessages. */
  private messageCount = 0;

  constructor(
    private readonly ctx: Pick<CaptureContext, 'hub' | 'tracker' | 'redactor' | 'maxBody' | 'streams' | 'limits'>,
    start: Omit<ExchangeStart, 'kind' | 'requestHeaders'> & { rawHeaders: HeaderList },
    /** The route's upstream, when the proxy serves several (else the tracker's target). */
    private readonly sessionTarget: string | null = null,
    /** The route's name, when the proxy serves several: the session's label. */
    private readonly sessionLabel: string | null = null,
  ) {
    const { rawHeaders, ...rest } = start;
    this.exchange = newExchange({ ...rest, kind: 'websocket', url: ctx.redactor.url(rest.url), upstreamUrl: ctx.redactor.url(rest.upstreamUrl), requestHeaders: ctx.redactor.headers(rawHeaders) });
    ctx.hub.emit('exchange', this.exchange);
  }

  /** The upstream switched protocols: the session opens, and frames are read with what the two ends agreed on. */
  opened(status: number, headers: HeaderList, at: number): void {
    const ex = this.exchange;
    recordHead(ex, this.ctx.redactor, status, headers, at);
    const deflate = negotiatedDeflate(header(headers, 'sec-websocket-extensions'));
    const reader = (d: Direction) => new WsFrameDecoder({
      onMessage: (m) => this.record(d, m),
      onClose: () => {
        this.closeFrom[d] = true;
        ex.closedBy ??= side(d);
      },
      // Pings and pongs keep the connection alive: activity on the stream, no progress for a request.
      onPing: () => {
        if (d === 'server->client') this.ctx.streams?.event(ex.id, 'keepalive', this.at);
      },
      onError: (message) => {
        ex.failure ??= { kind: 'bad-frames', from: side(d), detail: message };
      },
    }, deflate ? (d === 'client->server' ? deflate.client : deflate.server) : null, undefined, d === 'client->server');
    this.decoders = { 'client->server': reader('client->server'), 'server->client': reader('server->client') };
    this.session = this.ctx.tracker.openConnection(ex, 'websocket', this.sessionTarget, this.sessionLabel);
    this.ctx.streams?.opened(ex, 'websocket', at);
    this.ctx.hub.emit('exchange', ex);
  }

  /** Bytes relayed in one direction after the upgrade. */
  chunk(direction: Direction, chunk: Buffer, at: number): void {
    this.at = at;
    if (direction === 'client->server') this.exchange.requestBytes += chunk.length;
    else {
      this.exchange.responseBytes += chunk.length;
      this.ctx.streams?.bytes(this.exchange.id, chunk.length, at);
    }
    this.decoders?.[direction].push(chunk);
  }

  /** The intercept changed a frame it held (src/proxy/ws-intercept.ts): recorded on the exchange, redacted. */
  rewrote(change: Rewrite): void {
    recordRewrite(this.exchange, this.ctx.redactor, change);
    // Published at once: a connection is published again only when it closes, which may be hours away.
    this.ctx.hub.emit('exchange', this.exchange);
  }

  /** One socket went; `by` is the side whose socket closed first. */
  closed(by: 'client' | 'server', at: number): void {
    // A big message may still be inflating, its close frame held behind it: judge the close after them.
    const d = this.decoders;
    if (d) return d['client->server'].whenIdle(() => d['server->client'].whenIdle(() => this.ended(by, at)));
    this.ended(by, at);
  }

  private ended(by: 'client' | 'server', at: number): void {
    const ex = this.exchange;
    ex.endedAt = at;
    // Gone without the closing handshake: the connection dropped, it was not closed.
    if (by === 'client' && !this.closeFrom['client->server'] && !this.closeFrom['server->client']) {
      ex.aborted = true;
      ex.failure ??= { kind: 'client-aborted' };
    }
    ex.closedBy ??= by;
    this.ctx.streams?.closed(ex.id, ex.closedBy, at);
    if (this.session) this.ctx.tracker.end(this.session.id, 'ws-closed', at);
    this.ctx.hub.emit('exchange', ex);
  }

  /** The upstream answered the upgrade with something other than 101, which the client got as it was. */
  /** `body`: the stored copy (at most maxBody bytes); `bytes`: what the upstream sent. */
  refused(status: number, headers: HeaderList, body: Buffer, bytes: number, headAt: number, at: number): void {
    const ex = this.exchange;
    recordHead(ex, this.ctx.redactor, status, headers, headAt);
    ex.endedAt = at;
    ex.responseBody = this.ctx.redactor.text(utf8Prefix(body, this.ctx.maxBody).toString('utf8'));
    ex.responseBytes = bytes;
    ex.responseTruncated = bytes > body.length;
    ex.closedBy = 'server';
    ex.failure ??= { kind: 'upgrade-refused', status };
    this.endUnopened('ws-refused', at);
  }

  /**
   * The upgrade never got an answer: the upstream was unreachable (the client got mcptap's 502), or
   * the client hung up first (`client-aborted`).
   */
  failed(failure: Failure, at: number): void {
    const ex = this.exchange;
    if (ex.endedAt) return;
    const gone = failure.kind === 'client-aborted';
    ex.failure = failure;
    ex.aborted = gone;
    ex.closedBy = gone ? 'client' : 'server';
    if (!gone) ex.status = 502;
    ex.endedAt = at;
    this.endUnopened('ws-failed', at);
  }

  private endUnopened(reason: string, at: number): void {
    this.session = this.ctx.tracker.openConnection(this.exchange, 'websocket', this.sessionTarget, this.sessionLabel);
    this.ctx.tracker.end(this.session.id, reason, at);
    this.ctx.hub.emit('exchange', this.exchange);
  }

  /** A message the proxy itself sent to the client (an answer given at the intercept). */
  injected(text: string, at: number): void {
    if (this.session) this.ctx.tracker.record(this.session.id, this.exchange.id, 'server->client', 'ws-frame', decodeJsonRpcText(text), at);
  }

  private record(direction: Direction, m: WsMessage): void {
    const ex = this.exchange;
    if (!this.session) return;
    const max = this.ctx.limits?.max.maxMessages;
    if (max != null && ++this.messageCount > max) return void this.ctx.limits!.hit('messages');
    // A text message must be UTF-8 (RFC 6455 8.1); the receiving peer closes with 1007 when it is not.
    if (m.opcode === 1 && !m.truncated && !isUtf8(m.data)) ex.failure ??= { kind: 'bad-frames', from: side(direction), detail: 'a text message that is not valid UTF-8' };
    const text = m.opcode === 2 ? m.data.toString('latin1') : m.data.toString('utf8');
    if (direction === 'server->client') this.ctx.streams?.event(ex.id, 'message', this.at);
    this.ctx.tracker.record(this.session.id, ex.id, direction, 'ws-frame', decodeJsonRpcText(text), this.at);
  }
}
