import { isUtf8 } from 'node:buffer';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { CaptureEngine } from '../capture/engine.js';
import { now } from '../capture/clock.js';
import { header, pairs } from '../capture/headers.js';
import { newExchangeId } from '../capture/ids.js';
import type { Direction, Exchange, Session } from '../capture/model.js';
import { decodeJsonRpcText } from '../wire/jsonrpc.js';
import { negotiatedDeflate, WsFrameDecoder, type WsMessage } from '../wire/ws-frames.js';
import { upstreamPath, upstreamUrl, type Target } from './target.js';

interface WsState {
  ex: Exchange | null;
  session: Session | null;
}

/**
 * Relays a WebSocket connection byte for byte: the client's upgrade request goes upstream as it was
 * sent (Host aside), the upstream's 101 comes back as it was sent, and from then on the two sockets
 * are piped to each other. Frames, pings, close codes and whatever extensions the two ends agreed on
 * pass untouched; a passive frame reader on each direction (see ws-frames.ts) decodes the messages
 * for the capture, off the forwarding path.
 */
export class WebSocketBridge {
  private readonly live = new Set<Socket>();
  count = 0;

  /** `sessionTarget`: the route's upstream, when the proxy serves several (else the engine's target). */
  constructor(private readonly engine: CaptureEngine, private readonly target: Target, private readonly opts: { insecure: boolean; sessionTarget?: string }) {}

  handle(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    this.count++;
    const t0 = now();
    const queue = this.engine.queue;
    const url = req.url ?? '/';
    const upstream = upstreamUrl(this.target, url, true);
    const state: WsState = { ex: null, session: null };
    const clientAddress = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : null;
    const rawHeaders = req.rawHeaders;
    queue.push(() => {
      state.ex = {
        id: newExchangeId(), sessionId: null, kind: 'websocket', method: req.method ?? 'GET',
        url: this.engine.redactor.url(url), upstreamUrl: this.engine.redactor.url(upstream), status: null,
        requestHeaders: this.engine.redactor.headers(pairs(rawHeaders)), responseHeaders: null,
        startedAt: t0, firstByteAt: null, endedAt: null, requestBytes: 0, responseBytes: 0,
        requestBody: null, responseBody: null, requestTruncated: false, responseTruncated: false,
        error: null, aborted: false, closedBy: null, rewrite: null, clientAddress,
      };
      this.engine.hub.emit('exchange', state.ex);
    });
    socket.on('error', () => {});
    this.live.add(socket);
    socket.on('close', () => this.live.delete(socket));

    const secure = this.target.url.protocol === 'https:';
    const headers: string[] = [];
    let host = false;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      if (rawHeaders[i].toLowerCase() === 'host') {
        if (!host) headers.push(rawHeaders[i], this.target.url.host);
        host = true;
      } else headers.push(rawHeaders[i], rawHeaders[i + 1]);
    }
    if (!host) headers.push('Host', this.target.url.host);
    const upReq = (secure ? https : http).request({
      hostname: this.target.url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(this.target.url.port) || (secure ? 443 : 80),
      method: req.method,
      path: upstreamPath(this.target, url),
      headers,
      agent: false,
      ...(secure ? { rejectUnauthorized: !this.opts.insecure } : {}),
    });

    let answered = false;
    let clientGone = false;
    upReq.on('upgrade', (res, upSocket, upHead) => {
      answered = true;
      const t = now();
      const raw = pairs(res.rawHeaders);
      this.live.add(upSocket);
      upSocket.on('close', () => this.live.delete(upSocket));
      upSocket.on('error', () => {});
      if (socket.destroyed) {
        upSocket.destroy();
        return;
      }
      // The 101 exactly as the upstream sent it (Node has parsed it; the raw header lines are kept).
      const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      socket.setNoDelay(true);
      upSocket.setNoDelay(true);
      this.relay(socket, upSocket, state, negotiatedDeflate(header(raw, 'sec-websocket-extensions')), head, upHead);
      queue.push(() => {
        const ex = state.ex!;
        ex.status = res.statusCode ?? 101;
        ex.firstByteAt = t;
        ex.responseHeaders = this.engine.redactor.headers(raw);
        state.session = this.engine.tracker.openConnection(ex, 'websocket', this.opts.sessionTarget);
        this.engine.streams.opened(ex, 'websocket', t);
        this.engine.hub.emit('exchange', ex);
      });
    });

    upReq.on('response', (res) => {
      // The upstream refused the upgrade: give the client the same answer.
      answered = true;
      const t = now();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`];
        for (const [k, v] of pairs(res.rawHeaders)) if (!/^(connection|transfer-encoding|content-length)$/i.test(k)) lines.push(`${k}: ${v}`);
        lines.push(`content-length: ${body.length}`, 'connection: close', '', '');
        socket.end(Buffer.concat([Buffer.from(lines.join('\r\n')), body]));
        const raw = pairs(res.rawHeaders);
        queue.push(() => {
          const ex = state.ex!;
          ex.status = res.statusCode ?? null;
          ex.firstByteAt = t;
          ex.endedAt = now();
          ex.responseHeaders = this.engine.redactor.headers(raw);
          ex.responseBody = this.engine.redactor.text(body.toString('utf8')).slice(0, this.engine.maxBody);
          ex.responseBytes = body.length;
          ex.closedBy = 'server';
          state.session = this.engine.tracker.openConnection(ex, 'websocket', this.opts.sessionTarget);
          this.engine.tracker.end(state.session.id, 'ws-refused', ex.endedAt);
          this.engine.hub.emit('exchange', ex);
        });
      });
      res.on('error', () => socket.destroy());
    });

    upReq.on('error', (err: NodeJS.ErrnoException) => {
      const cause = clientGone ? null : `${err.code ?? 'ERROR'}: ${err.message}`;
      if (cause && !socket.destroyed && socket.writable) {
        const body = JSON.stringify({ error: 'mcptap: the upstream WebSocket failed', target: this.target.display, cause });
        socket.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      }
      const t = now();
      queue.push(() => {
        const ex = state.ex!;
        if (ex.endedAt) return;
        ex.error = cause;
        ex.aborted = clientGone;
        ex.closedBy = clientGone ? 'client' : 'server';
        if (!clientGone) ex.status = 502;
        ex.endedAt = t;
        state.session = this.engine.tracker.openConnection(ex, 'websocket', this.opts.sessionTarget);
        this.engine.tracker.end(state.session.id, 'ws-failed', t);
        this.engine.hub.emit('exchange', ex);
      });
    });
    // The client hung up before the upstream answered.
    socket.once('close', () => {
      if (answered) return;
      clientGone = true;
      upReq.destroy();
    });
    upReq.end();
  }

  private relay(client: Socket, up: Socket, state: WsState, deflate: ReturnType<typeof negotiatedDeflate>, clientHead: Buffer, upHead: Buffer): void {
    const queue = this.engine.queue;
    let clientClosed = false;
    let serverClosed = false;
    const decoder = (direction: Direction) => new WsFrameDecoder({
      onMessage: (m) => this.record(state, direction, m),
      onClose: () => {
        if (direction === 'client->server') clientClosed = true;
        else serverClosed = true;
        state.ex!.closedBy ??= direction === 'client->server' ? 'client' : 'server';
      },
      onPing: () => {
        if (direction === 'server->client' && state.ex) this.engine.streams.event(state.ex.id, 'keepalive', this.at);
      },
      onError: (message) => {
        const ex = state.ex;
        if (ex && !ex.error) ex.error = `${direction === 'client->server' ? 'client' : 'server'} frames: ${message}`;
      },
    }, deflate ? (direction === 'client->server' ? deflate.client : deflate.server) : null, undefined, direction === 'client->server');
    const fromClient = decoder('client->server');
    const fromServer = decoder('server->client');
    const tap = (d: WsFrameDecoder, direction: Direction) => (chunk: Buffer) => {
      const t = now();
      queue.push(() => {
        this.at = t;
        const ex = state.ex!;
        if (direction === 'client->server') ex.requestBytes += chunk.length;
        else {
          ex.responseBytes += chunk.length;
          this.engine.streams.bytes(ex.id, chunk.length, t);
        }
        d.push(chunk);
      });
    };
    if (clientHead.length) tap(fromClient, 'client->server')(clientHead);
    if (upHead.length) tap(fromServer, 'server->client')(upHead);
    client.on('data', tap(fromClient, 'client->server'));
    up.on('data', tap(fromServer, 'server->client'));
    client.pipe(up);
    up.pipe(client);
    let ended = false;
    const end = (by: 'client' | 'server') => {
      if (ended) return;
      ended = true;
      const t = now();
      // One side went: the other goes too (pipe ends it on a clean end; a reset needs this).
      (by === 'client' ? up : client).destroy();
      queue.push(() => {
        const ex = state.ex!;
        ex.endedAt = t;
        // Gone without the closing handshake: the connection dropped, it was not closed.
        if (by === 'client' && !clientClosed && !serverClosed) ex.aborted = true;
        ex.closedBy ??= by;
        this.engine.streams.closed(ex.id, ex.closedBy, t);
        if (state.session) this.engine.tracker.end(state.session.id, 'ws-closed', t);
        this.engine.hub.emit('exchange', ex);
      });
    };
    client.on('close', () => end('client'));
    up.on('close', () => end('server'));
  }

  /** When the chunk that completed the message being recorded arrived. */
  private at = 0;

  private record(state: WsState, direction: Direction, m: WsMessage): void {
    const ex = state.ex;
    if (!ex || !state.session) return;
    // A text message must be UTF-8 (RFC 6455 8.1); the receiving peer closes with 1007 when it is not.
    if (m.opcode === 1 && !m.truncated && !isUtf8(m.data)) ex.error ??= `${direction === 'client->server' ? 'client' : 'server'} frames: a text message that is not valid UTF-8`;
    const text = m.opcode === 2 ? m.data.toString('latin1') : m.data.toString('utf8');
    if (direction === 'server->client') this.engine.streams.event(ex.id, 'message', this.at);
    this.engine.tracker.record(state.session.id, ex.id, direction, 'ws-frame', decodeJsonRpcText(text), this.at);
  }

  closeAll(): void {
    for (const s of this.live) s.destroy();
    this.live.clear();
  }
}
