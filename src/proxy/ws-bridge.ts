import type http from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { CaptureEngine } from '../capture/engine.js';
import { now } from '../capture/clock.js';
import { pairs } from '../capture/headers.js';
import { newExchangeId } from '../capture/ids.js';
import type { Direction, Exchange, Session } from '../capture/model.js';
import { decodeJsonRpcText } from '../wire/jsonrpc.js';
import { upstreamUrl, type Target } from './target.js';

// The handshake is the bridge's own on each side; everything else the client sent goes upstream.
const HANDSHAKE = /^(host|connection|upgrade|sec-websocket-(key|version|extensions|protocol))$/i;

/**
 * Terminates the client's WebSocket and opens one to the upstream, then forwards every frame, ping,
 * pong and close code between them. http-proxy's own WebSocket path pipes raw bytes and cannot see
 * frames; this sees each one and decodes its JSON-RPC.
 */
export class WebSocketBridge {
  private readonly wss: WebSocketServer;
  private readonly live = new Set<WebSocket>();
  count = 0;

  constructor(private readonly engine: CaptureEngine, private readonly target: Target, private readonly opts: { insecure: boolean }) {
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      autoPong: false,
      // Offer the client exactly what the upstream chose.
      handleProtocols: (_protocols, req) => (req as http.IncomingMessage & { mcptapProtocol?: string }).mcptapProtocol || false,
    });
  }

  handle(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    this.count++;
    const t0 = now();
    const queue = this.engine.queue;
    const url = req.url ?? '/';
    const upstream = upstreamUrl(this.target, url, true);
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    const headers: Record<string, string> = {};
    for (const [k, v] of pairs(req.rawHeaders)) if (!HANDSHAKE.test(k)) headers[k] = v;
    const state: { ex: Exchange | null; session: Session | null } = { ex: null, session: null };
    const clientAddress = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : null;
    queue.push(() => {
      state.ex = {
        id: newExchangeId(), sessionId: null, kind: 'websocket', method: req.method ?? 'GET',
        url: this.engine.redactor.url(url), upstreamUrl: this.engine.redactor.url(upstream), status: null,
        requestHeaders: this.engine.redactor.headers(pairs(req.rawHeaders)), responseHeaders: null,
        startedAt: t0, firstByteAt: null, endedAt: null, requestBytes: 0, responseBytes: 0,
        requestBody: null, responseBody: null, requestTruncated: false, responseTruncated: false,
        error: null, aborted: false, rewrite: null, clientAddress,
      };
      this.engine.hub.emit('exchange', state.ex);
    });
    socket.on('error', () => {});

    const up = new WebSocket(upstream, protocols, {
      headers,
      perMessageDeflate: false,
      autoPong: false,
      rejectUnauthorized: !this.opts.insecure,
    });
    this.live.add(up);
    up.on('close', () => this.live.delete(up));
    let opened = false;

    up.on('upgrade', (res) => {
      const t = now();
      const raw = pairs(res.rawHeaders);
      queue.push(() => {
        const ex = state.ex!;
        ex.status = res.statusCode ?? 101;
        ex.firstByteAt = t;
        ex.responseHeaders = this.engine.redactor.headers(raw);
      });
    });

    let refused = false;
    up.on('unexpected-response', (_r, res) => {
      // The upstream refused the upgrade: give the client the same answer.
      refused = true;
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
          state.session = this.engine.tracker.openWebSocket(ex);
          this.engine.tracker.end(state.session.id, 'ws-refused', ex.endedAt);
          this.engine.hub.emit('exchange', ex);
        });
        up.terminate();
      });
    });

    up.on('error', (err: NodeJS.ErrnoException) => {
      if (opened || refused) return;
      const cause = `${err.code ?? 'ERROR'}: ${err.message}`;
      if (!socket.destroyed && socket.writable) {
        const body = JSON.stringify({ error: 'mcptap: the upstream WebSocket failed', target: this.target.display, cause });
        socket.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      }
      const t = now();
      queue.push(() => {
        const ex = state.ex!;
        if (ex.endedAt) return;
        ex.error = cause;
        ex.status = 502;
        ex.endedAt = t;
        state.session = this.engine.tracker.openWebSocket(ex);
        this.engine.tracker.end(state.session.id, 'ws-failed', t);
        this.engine.hub.emit('exchange', ex);
      });
    });

    up.on('open', () => {
      opened = true;
      (req as http.IncomingMessage & { mcptapProtocol?: string }).mcptapProtocol = up.protocol;
      if (socket.destroyed) {
        up.terminate();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (client) => this.bridge(client, up, state));
      queue.push(() => {
        state.session = this.engine.tracker.openWebSocket(state.ex!);
        this.engine.hub.emit('exchange', state.ex!);
      });
    });
  }

  private bridge(client: WebSocket, up: WebSocket, state: { ex: Exchange | null; session: Session | null }): void {
    this.live.add(client);
    const queue = this.engine.queue;
    const tap = (direction: Direction, data: RawData, isBinary: boolean) => {
      const t = now();
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      queue.push(() => {
        const ex = state.ex!;
        if (direction === 'client->server') ex.requestBytes += buf.length;
        else ex.responseBytes += buf.length;
        if (!state.session) return;
        const decoded = decodeJsonRpcText(isBinary ? buf.toString('latin1') : buf.toString('utf8'));
        this.engine.tracker.record(state.session.id, ex.id, direction, 'ws-frame', decoded, t);
      });
    };
    client.on('message', (data, isBinary) => {
      if (up.readyState === WebSocket.OPEN) up.send(data, { binary: isBinary });
      tap('client->server', data, isBinary);
    });
    up.on('message', (data, isBinary) => {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      tap('server->client', data, isBinary);
    });
    client.on('ping', (d) => up.readyState === WebSocket.OPEN && up.ping(d));
    client.on('pong', (d) => up.readyState === WebSocket.OPEN && up.pong(d));
    up.on('ping', (d) => client.readyState === WebSocket.OPEN && client.ping(d));
    up.on('pong', (d) => client.readyState === WebSocket.OPEN && client.pong(d));
    const closeOther = (other: WebSocket, code: number, reason: Buffer) => {
      if (other.readyState !== WebSocket.OPEN) return;
      // 1005 (no code) and 1006 (abnormal) describe a close; they cannot be sent in one.
      if (code === 1005 || code === 1006 || code < 1000) other.close();
      else other.close(code, reason);
    };
    let ended = false;
    const end = (by: 'client' | 'server', code: number) => {
      if (ended) return;
      ended = true;
      const t = now();
      queue.push(() => {
        const ex = state.ex!;
        ex.endedAt = t;
        if (by === 'client' && code === 1006) ex.aborted = true;
        if (state.session) this.engine.tracker.end(state.session.id, 'ws-closed', t);
        this.engine.hub.emit('exchange', ex);
      });
    };
    client.on('close', (code, reason) => {
      this.live.delete(client);
      closeOther(up, code, reason);
      if (code === 1006) up.terminate();
      end('client', code);
    });
    up.on('close', (code, reason) => {
      closeOther(client, code, reason);
      if (code === 1006) client.terminate();
      end('server', code);
    });
    client.on('error', () => {});
    up.on('error', () => {});
  }

  closeAll(): void {
    for (const ws of this.live) ws.terminate();
    this.live.clear();
    this.wss.close();
  }
}
