import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { CaptureEngine } from '../capture/engine.js';
import { now } from '../model/clock.js';
import { failureText } from '../model/facts.js';
import { pairs } from '../model/headers.js';
import type { Direction, Rewrite } from '../model/model.js';
import { WebSocketCapture } from '../capture/ws-exchange.js';
import { upstreamPath, upstreamUrl, type Target } from './target.js';
import { gateConnection } from './ws-intercept.js';
import type { Interceptor } from './intercept.js';
import { caContext, upstreamFailureOf, verifiedHttpsRequest } from './upstream-tls.js';

/**
 * Relays a WebSocket connection byte for byte: the client's upgrade request goes upstream as it was
 * sent (Host aside), the upstream's 101 comes back as it was sent, and from then on the two sockets
 * are piped to each other. Frames, pings, close codes and whatever extensions the two ends agreed on
 * pass untouched. Each side's bytes are mirrored, through the capture queue, to a WebSocketCapture
 * (src/capture/ws-exchange.ts), which reads the frames off the forwarding path.
 */
export class WebSocketBridge {
  private readonly live = new Set<Socket>();
  count = 0;

  /** `sessionTarget`: the route's upstream, when the proxy serves several (else the engine's target). */
  constructor(private readonly engine: CaptureEngine, private readonly target: Target, private readonly opts: { insecure: boolean; sessionTarget?: string; sessionLabel?: string; interceptor?: Interceptor; route?: string; ca?: string[] }) {}

  handle(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    this.count++;
    const t0 = now();
    const queue = this.engine.queue;
    const url = req.url ?? '/';
    const upstream = upstreamUrl(this.target, url, true);
    let capture: WebSocketCapture | null = null;
    const clientAddress = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : null;
    const rawHeaders = req.rawHeaders;
    queue.push(() => {
      capture = new WebSocketCapture(this.engine, { method: req.method ?? 'GET', url, upstreamUrl: upstream, rawHeaders: pairs(rawHeaders), startedAt: t0, clientAddress }, this.opts.sessionTarget ?? null, this.opts.sessionLabel ?? null);
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
    // A verified upstream (forward mode's CAs) checks the certificate itself, as HTTP's does, to record what was wrong.
    const verified = secure && !!this.opts.ca && !this.opts.insecure;
    const upReq = (verified ? verifiedHttpsRequest : secure ? https.request : http.request)({
      hostname: this.target.url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(this.target.url.port) || (secure ? 443 : 80),
      method: req.method,
      path: upstreamPath(this.target, url),
      headers,
      agent: false,
      ...(secure ? { rejectUnauthorized: !verified && !this.opts.insecure, ...(this.opts.ca ? { secureContext: caContext(this.opts.ca) } : {}) } : {}),
    });

    let answered = false;
    let clientGone = false;
    let refusal: http.IncomingMessage | null = null;
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
      // With --hold the first bytes of each side go through its gate, with the rest.
      if (upHead.length && !this.opts.interceptor) socket.write(upHead);
      if (head.length && !this.opts.interceptor) upSocket.write(head);
      socket.setNoDelay(true);
      upSocket.setNoDelay(true);
      // The session opens before the first bytes are read, so frames that came with the head are kept.
      queue.push(() => capture!.opened(res.statusCode ?? 101, raw, t));
      this.relay(socket, upSocket, () => capture!, head, upHead, res.headers['sec-websocket-extensions']);
    });

    upReq.on('response', (res) => {
      // The upstream refused the upgrade: the client gets the same answer, relayed as it arrives (a slow
      // or endless refusal body is not held), and the connection closes after it.
      answered = true;
      refusal = res;
      const t = now();
      const raw = pairs(res.rawHeaders);
      const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`];
      // Node has undone any chunking; a Content-Length still holds, else the body ends with the connection.
      for (const [k, v] of raw) if (!/^(connection|transfer-encoding|keep-alive)$/i.test(k)) lines.push(`${k}: ${v}`);
      lines.push('connection: close', '', '');
      socket.write(lines.join('\r\n'));
      // Read (and drop) what the client sends, so that its leaving is seen.
      socket.resume();
      const limit = this.engine.maxBody;
      const kept: Buffer[] = [];
      let keptBytes = 0;
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (keptBytes < limit) {
          kept.push(c.length > limit - keptBytes ? c.subarray(0, limit - keptBytes) : c);
          keptBytes += Math.min(c.length, limit - keptBytes);
        }
        socket.write(c);
      });
      // 'close' without 'end': the client left mid-body (the upstream was closed) or the upstream cut it.
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        socket.end();
        const tEnd = now();
        const body = Buffer.concat(kept);
        queue.push(() => capture!.refused(res.statusCode ?? 0, raw, body, bytes, t, tEnd));
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', () => socket.destroy());
    });

    upReq.on('error', (err: NodeJS.ErrnoException) => {
      const failure = upstreamFailureOf(err);
      if (!clientGone && !socket.destroyed && socket.writable) {
        const body = JSON.stringify({ error: 'mcptap: the upstream WebSocket failed', target: this.target.display, cause: failureText(failure) });
        socket.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\nx-mcptap-error: ${failure.kind}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      }
      const t = now();
      const gone = clientGone;
      queue.push(() => capture!.failed(gone ? { kind: 'client-aborted' } : failure, t));
    });
    // The client hung up before the upstream answered, or while its refusal was being relayed: the
    // upstream connection has no one to answer and is closed.
    const left = () => {
      if (answered && !(refusal && !refusal.complete)) return;
      clientGone = !answered;
      upReq.destroy();
    };
    socket.once('close', left);
    // The server keeps sockets half-open: a client's FIN is an 'end' without a 'close'.
    socket.once('end', () => {
      if (refusal) socket.destroy();
      left();
    });
    upReq.end();
  }

  /** Pipes the two sockets to each other and mirrors each side's bytes to the capture. */
  private relay(client: Socket, up: Socket, cap: () => WebSocketCapture, clientHead: Buffer, upHead: Buffer, extensions?: string): void {
    const queue = this.engine.queue;
    const tap = (direction: Direction) => (chunk: Buffer) => {
      const t = now();
      queue.push(() => cap().chunk(direction, chunk, t));
    };
    if (clientHead.length) tap('client->server')(clientHead);
    if (upHead.length) tap('server->client')(upHead);
    client.on('data', tap('client->server'));
    up.on('data', tap('server->client'));
    const interceptor = this.opts.interceptor;
    if (interceptor) {
      const record = (change: Rewrite) => queue.push(() => cap().rewrote(change));
      // Both sides go through a gate: the client's to remember the requests the server's answers are named after.
      const gates = gateConnection(interceptor, this.opts.route ?? '', client, up, extensions, record, (text) => {
        const t = now();
        queue.push(() => cap().injected(text, t));
      });
      if (clientHead.length) gates.client.push(clientHead);
      if (upHead.length) gates.server.push(upHead);
      client.on('data', (c: Buffer) => gates.client.push(c));
      up.on('data', (c: Buffer) => gates.server.push(c));
      client.on('end', () => up.end());
      up.on('end', () => client.end());
      client.on('close', () => gates.client.close());
      up.on('close', () => gates.server.close());
    } else {
      client.pipe(up);
      up.pipe(client);
    }
    let ended = false;
    const end = (by: 'client' | 'server') => {
      if (ended) return;
      ended = true;
      const t = now();
      // One side went: the other goes too (pipe ends it on a clean end; a reset needs this).
      (by === 'client' ? up : client).destroy();
      queue.push(() => cap().closed(by, t));
    };
    client.on('close', () => end('client'));
    up.on('close', () => end('server'));
  }

  closeAll(): void {
    for (const s of this.live) s.destroy();
    this.live.clear();
  }
}
