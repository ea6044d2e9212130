import http from 'node:http';
import { WebSocket } from 'ws';
import type { HeaderList } from '../model/model.js';
import { header, mediaType, pairs } from '../model/headers.js';
import { isSecretHeader } from '../capture/redact.js';
import { SseDecoder } from '../wire/sse.js';
import { legacySessionIdOf } from '../wire/legacy-endpoint.js';

// The replay client's side of each transport, spoken with node:http and ws so that recorded bodies
// and headers go out as recorded (names, order, ids), which an MCP SDK client would not allow.

export interface WireHandlers {
  /** One JSON-RPC message (or batch) from the server. */
  message(value: unknown): void;
  warn(message: string): void;
}

/** What a send gave, as soon as the response head is in (what an MCP client waits for before going on). */
export interface Sent {
  status: number | null;
  /**
   * Resolves when the exchange is over: true when no answer to what was sent can come any more (the
   * POST's own response has ended, or the legacy POST was refused).
   */
  done: Promise<boolean>;
}

export interface Wire {
  /** `Mcp-Session-Id` (or the legacy sessionId) of the live session, once the server issued one. */
  readonly sessionId: string | null;
  start(): Promise<void>;
  send(body: string, recorded: { path: string; headers: HeaderList } | null): Promise<Sent>;
  openStream(recorded: { path: string; headers: HeaderList }): Promise<void>;
  remove(recorded: { path: string; headers: HeaderList }): Promise<void>;
  close(): Promise<void>;
}

// Per-connection and per-body headers are the replay's own; the rest go out as recorded.
const OWN = /^(host|connection|keep-alive|transfer-encoding|content-length|content-encoding|accept-encoding|upgrade|expect|te|trailer|proxy-connection|sec-websocket-(key|version|extensions|accept))$/i;
// Fingerprints as written now (`[redacted:9f3a1c2e…2404]`) and by older versions (`sk-…2404`, `[redacted 8 chars #a1b2c3]`).
export const REDACTED = /…|\[redacted[ :]/;

/** Recorded headers made fit to send again: hop-by-hop gone, secrets that were redacted gone (or given by --header), the live session id in. */
export class HeaderPlan {
  private readonly warned = new Set<string>();

  constructor(private readonly extra: HeaderList, private readonly warn: (m: string) => void) {}

  /**
   * With `protocolVersion` (the version the live initialize negotiated) the recorded MCP-Protocol-Version
   * is replaced by it, and a live session id goes on every request, recorded with one or not: a session
   * replayed against another server (a gateway in front of it, or the server without the gateway) speaks
   * that server's session.
   */
  build(recorded: HeaderList, sessionId: string | null, extraDefaults: HeaderList = [], protocolVersion: string | null = null): string[] {
    const out: HeaderList = [];
    let sentSession = false;
    const overridden = new Set(this.extra.map(([k]) => k.toLowerCase()));
    for (const [k, v] of [...recorded, ...extraDefaults.filter(([d]) => !header(recorded, d))]) {
      const lk = k.toLowerCase();
      if (OWN.test(lk) || overridden.has(lk)) continue;
      if (lk === 'mcp-session-id') {
        if (sessionId) out.push([k, sessionId]);
        sentSession = !!sessionId;
        continue;
      }
      if (lk === 'mcp-protocol-version' && protocolVersion) {
        out.push([k, protocolVersion]);
        continue;
      }
      if (isSecretHeader(lk) && REDACTED.test(v)) {
        if (!this.warned.has(lk)) {
          this.warned.add(lk);
          this.warn(`the recorded ${k} header was redacted, so it is not sent; give it with --header '${k}: …'`);
        }
        continue;
      }
      out.push([k, v]);
    }
    if (sessionId && !sentSession && !overridden.has('mcp-session-id')) out.push(['mcp-session-id', sessionId]);
    out.push(...this.extra);
    return out.flat();
  }
}

/** The proxy could not reach the target (it answered for it, with x-mcptap-error: upstream-unreachable). */
export class UpstreamError extends Error {}

/**
 * Throws UpstreamError when the in-process proxy answered for an unreachable target: it marks such
 * answers with x-mcptap-error (HTTP) or a JSON body whose error starts with "mcptap:" (a refused upgrade).
 */
async function checkUpstream(res: http.IncomingMessage, upgrade = false): Promise<void> {
  // `upstream` is what mcptap before facts-as-data sent.
  const told = res.headers['x-mcptap-error'];
  if (told !== 'upstream-unreachable' && told !== 'upstream' && !(upgrade && res.statusCode === 502)) return;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  let body: { error?: unknown; cause?: unknown } = {};
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
  } catch {
    // not the proxy's JSON
  }
  if (upgrade && !String(body.error ?? '').startsWith('mcptap:')) return;
  throw new UpstreamError(typeof body.cause === 'string' ? body.cause : `HTTP ${res.statusCode}`);
}

interface Base {
  host: string;
  port: number;
  agent: http.Agent;
  handlers: WireHandlers;
  headers: HeaderPlan;
}

function request(b: Base, method: string, path: string, headers: string[], body?: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    // With headers given as a list, node:http adds none of its own: Host is ours to send.
    const h = ['host', `${b.host}:${b.port}`, ...headers, ...(body != null ? ['content-length', String(Buffer.byteLength(body))] : [])];
    const req = http.request({ host: b.host, port: b.port, method, path, headers: h as unknown as http.OutgoingHttpHeaders, agent: b.agent });
    req.on('response', resolve);
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads a response body: SSE events or one JSON body, each message to the handler. */
function consume(b: Base, res: http.IncomingMessage, onEvent?: (event: string, data: string) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const deliver = (text: string) => {
      if (!/\S/.test(text)) return;
      try {
        b.handlers.message(JSON.parse(text));
      } catch {
        b.handlers.warn(`the server sent something that is not JSON: ${text.slice(0, 80)}`);
      }
    };
    const sse = mediaType(res.headers['content-type'] ?? '') === 'text/event-stream';
    const json = /json/.test(res.headers['content-type'] ?? '');
    const dec = sse ? new SseDecoder((e) => {
      if (e.cut?.kind === 'unfinished') return;
      if (onEvent?.(e.event, e.data)) return;
      if (e.event === 'message') deliver(e.data);
    }) : null;
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => (dec ? dec.push(c) : json && chunks.push(c)));
    res.on('end', () => {
      dec?.end();
      if (json) deliver(Buffer.concat(chunks).toString('utf8'));
      resolve();
    });
    res.on('error', () => resolve());
    res.on('close', () => resolve());
  });
}

export class StreamableWire implements Wire {
  sessionId: string | null = null;
  private protocolVersion: string | null = null;
  private readonly streams = new Set<http.IncomingMessage>();

  constructor(private readonly b: Base, private readonly defaultPath: string) {}

  async start(): Promise<void> {}

  /** Defaults for a message that was recorded on another transport. */
  private defaults(): HeaderList {
    const h: HeaderList = [['content-type', 'application/json'], ['accept', 'application/json, text/event-stream']];
    if (this.protocolVersion) h.push(['mcp-protocol-version', this.protocolVersion]);
    if (this.sessionId) h.push(['mcp-session-id', this.sessionId]);
    return h;
  }

  async send(body: string, recorded: { path: string; headers: HeaderList } | null): Promise<Sent> {
    const headers = this.b.headers.build(recorded?.headers ?? [], this.sessionId, recorded ? [] : this.defaults(), this.protocolVersion);
    const res = await request(this.b, 'POST', recorded?.path ?? this.defaultPath, headers, body);
    await checkUpstream(res);
    const sid = res.headers['mcp-session-id'];
    if (typeof sid === 'string' && sid) this.sessionId = sid;
    return { status: res.statusCode ?? null, done: consume(this.b, res).then(() => true) };
  }

  /** Learns the negotiated version from the initialize result, for messages that carry no recorded headers. */
  noteProtocolVersion(v: string): void {
    this.protocolVersion ??= v;
  }

  async openStream(recorded: { path: string; headers: HeaderList }): Promise<void> {
    const res = await request(this.b, 'GET', recorded.path, this.b.headers.build(recorded.headers, this.sessionId, [], this.protocolVersion));
    await checkUpstream(res);
    this.streams.add(res);
    void consume(this.b, res).then(() => this.streams.delete(res));
  }

  async remove(recorded: { path: string; headers: HeaderList }): Promise<void> {
    const res = await request(this.b, 'DELETE', recorded.path, this.b.headers.build(recorded.headers, this.sessionId, [], this.protocolVersion));
    await checkUpstream(res);
    await consume(this.b, res);
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.destroy();
    this.streams.clear();
  }
}

/** The 2024-11-05 transport: a GET stream announces the endpoint; POSTs go there; answers come on the stream. */
export class LegacySseWire implements Wire {
  sessionId: string | null = null;
  private endpoint: string | null = null;
  private stream: http.IncomingMessage | null = null;
  private streamDone: Promise<void> = Promise.resolve();

  constructor(private readonly b: Base, private readonly recorded: { path: string; headers: HeaderList } | null, private readonly timeoutMs: number) {}

  async start(): Promise<void> {
    const path = this.recorded?.path ?? '/sse';
    const headers = this.b.headers.build(this.recorded?.headers ?? [], null, [['accept', 'text/event-stream']]);
    const res = await request(this.b, 'GET', path, headers);
    await checkUpstream(res);
    if (res.statusCode !== 200) {
      res.resume();
      throw new Error(`GET ${path} answered ${res.statusCode}, not an SSE stream`);
    }
    this.stream = res;
    let announced!: () => void;
    const endpoint = new Promise<void>((r) => (announced = r));
    this.streamDone = consume(this.b, res, (event, data) => {
      if (event !== 'endpoint') return false;
      const u = new URL(data.trim(), `http://${this.b.host}:${this.b.port}${path}`);
      this.endpoint = u.pathname + u.search;
      this.sessionId = legacySessionIdOf(this.endpoint);
      announced();
      return true;
    });
    const timer = new Promise<void>((r) => setTimeout(r, this.timeoutMs).unref());
    await Promise.race([endpoint, this.streamDone, timer]);
    if (!this.endpoint) throw new Error(`GET ${path} announced no endpoint`);
  }

  async send(body: string, recorded: { path: string; headers: HeaderList } | null): Promise<Sent> {
    const headers = this.b.headers.build(recorded?.headers ?? [], null, [['content-type', 'application/json']]);
    const res = await request(this.b, 'POST', this.endpoint!, headers, body);
    await checkUpstream(res);
    res.resume();
    const status = res.statusCode ?? null;
    // Answers come on the stream; a refused POST brings none.
    return { status, done: new Promise<boolean>((r) => res.on('close', () => r(status == null || status >= 300))) };
  }

  async openStream(): Promise<void> {}
  async remove(): Promise<void> {}

  async close(): Promise<void> {
    this.stream?.destroy();
    await this.streamDone;
  }
}

export class WebSocketWire implements Wire {
  readonly sessionId = null;
  private ws: WebSocket | null = null;

  constructor(private readonly b: Base, private readonly recorded: { path: string; headers: HeaderList } | null) {}

  async start(): Promise<void> {
    const path = this.recorded?.path ?? '/';
    const protocols = (header(this.recorded?.headers, 'sec-websocket-protocol') ?? 'mcp').split(',').map((p) => p.trim()).filter(Boolean);
    const headers = pairs(this.b.headers.build((this.recorded?.headers ?? []).filter(([k]) => k.toLowerCase() !== 'sec-websocket-protocol'), null));
    const ws = new WebSocket(`ws://${this.b.host}:${this.b.port}${path}`, protocols, { headers: Object.fromEntries(headers), perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => {
        checkUpstream(res, true).then(() => {
          res.resume();
          reject(new Error(`the WebSocket upgrade was refused with ${res.statusCode}`));
        }, reject);
      });
    });
    ws.on('error', (e) => this.b.handlers.warn(`WebSocket: ${e.message}`));
    ws.on('message', (data) => {
      const text = data.toString();
      try {
        this.b.handlers.message(JSON.parse(text));
      } catch {
        this.b.handlers.warn(`the server sent a frame that is not JSON: ${text.slice(0, 80)}`);
      }
    });
    this.ws = ws;
  }

  async send(body: string): Promise<Sent> {
    if (this.ws?.readyState !== WebSocket.OPEN) return { status: null, done: Promise.resolve(true) };
    await new Promise<void>((resolve) => this.ws!.send(body, () => resolve()));
    return { status: null, done: Promise.resolve(false) };
  }

  async openStream(): Promise<void> {}
  async remove(): Promise<void> {}

  async close(): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    ws.close(1000);
    const t = setTimeout(() => ws.terminate(), 1000);
    await closed;
    clearTimeout(t);
  }
}

export type { Base as WireBase };
