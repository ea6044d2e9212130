import http from 'node:http';
import type { Socket } from 'node:net';
import { CaptureEngine } from '../capture/engine.js';
import { badRequestRefuser } from './client-error.js';
import { now } from '../capture/clock.js';
import { pairs, header, mediaType } from '../capture/headers.js';
import { HttpExchangeCapture } from '../capture/http-exchange.js';
import { newExchangeId } from '../capture/ids.js';
import type { Exchange, HeaderList } from '../capture/model.js';
import { listen } from './listen.js';
import { UsageError } from '../errors.js';
import { pendingDecodes } from '../wire/body.js';
import { EndpointRewriter } from './endpoint-rewrite.js';
import { tuneHeapForStreaming } from './heap.js';
import { parseTarget, proxiedUrl, upstreamPath, upstreamUrl, type Target } from './target.js';
import { RouteTable, type Route } from './routes.js';
import { METADATA_LIMIT, proxiedChallenge, proxiedResourceMetadata } from './oauth-rewrite.js';
import { isResourceMetadataPath } from '../wire/oauth-paths.js';
import { WebSocketBridge } from './ws-bridge.js';
import { requestTransforms } from './transforms.js';
import { attachRecorder, type AttachedStore } from './store-link.js';

export interface ProxyOptions {
  /** The one upstream; or give `routes`. */
  target?: string;
  /** Several named upstreams (name → target URL), each served under `/s/NAME/…`. */
  routes?: Record<string, string>;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Capture database; null captures in memory only (the hub still sees everything). */
  db?: string | null;
  label?: string | null;
  redact?: boolean;
  maxBody?: number;
  /** Stored copy cap for event-stream response bodies (default 1 MiB, never above maxBody). */
  maxStreamBody?: number;
  /** Skip TLS certificate checks towards an https target (self-signed gateways). */
  insecure?: boolean;
  onWarning?: (message: string) => void;
  /** Ask LiteLLM what it resolved for each MCP request (x-litellm-mcp-debug), recorded as a transform. */
  gatewayDebug?: boolean;
}

export interface ProxyStats {
  exchanges: number;
  webSockets: number;
  captureFailures: number;
  written: number;
  pendingWrites: number;
  writeFailures: number;
  droppedWrites: number;
  /** Payloads stored cut because the database fell behind the traffic. */
  cutPayloads: number;
}

export interface RunningProxy {
  /** http://HOST:PORT */
  url: string;
  port: number;
  host: string;
  /** The --target (with routes: the first route's). */
  target: Target;
  routes: RouteTable;
  engine: CaptureEngine;
  stats(): ProxyStats;
  /** Runs queued capture work and writes it (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** How long the head of an event stream may wait to go out together with the first event. */
const STREAM_HEAD_WAIT_MS = 20;

// Hop-by-hop headers describe one connection; the proxy's connections are its own.
const HOP_BY_HOP = new Set(['connection', 'keep-alive']);
const REQUEST_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection']);

interface InFlight {
  route: Route;
  cap: HttpExchangeCapture | null;
  proxyReq: http.ClientRequest | null;
  proxyRes: http.IncomingMessage | null;
  upstreamFailed: boolean;
  clientGone: boolean;
}

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  if (!opts.target && !opts.routes) throw new UsageError('give --target, or routes to serve');
  const routes = opts.routes ? RouteTable.named(opts.routes, !!opts.insecure) : RouteTable.single(parseTarget(opts.target!), !!opts.insecure);
  const target = routes.list()[0].upstream.target;
  tuneHeapForStreaming();
  const host = opts.host ?? '127.0.0.1';
  const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`mcptap: ${m}\n`));
  const engine = new CaptureEngine({ target: routes.single ? target.display : 'routes', label: opts.label, redact: opts.redact, maxBody: opts.maxBody, maxStreamBody: opts.maxStreamBody });
  engine.hub.on('warning', warn);
  const store: AttachedStore | null = opts.db ? attachRecorder(engine.hub, opts.db, warn) : null;
  const queue = engine.queue;

  const sockets = new Set<Socket>();
  const transforms = requestTransforms(opts);
  let exchanges = 0;
  // Streams cut by our own shutdown are not upstream failures.
  let stopping = false;

  // Node closes an idle client connection after 5 s, the moment a client (undici: 4 s, told 5) may send
  // its next request on it: under load that request met a reset. A proxy outlasts its clients' idle time.
  const server = http.createServer({ noDelay: true, keepAliveTimeout: 65_000 });
  server.headersTimeout = 66_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  /**
   * The forwarding core: the request goes upstream with its headers as the client sent them (case,
   * order, repeats), except Host, which names the target, and the hop-by-hop ones, which describe the
   * client's connection. A direct http.request: http-proxy's per-request set-up (URL parsing, option
   * merging, event fan-out) cost more CPU per call than the capture's decoding.
   */
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, st: InFlight, path: string, onError: (err: NodeJS.ErrnoException) => void) => {
    const upstream = st.route.upstream;
    const raw = req.rawHeaders;
    const headers: string[] = [];
    let host = false;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const lk = raw[i].toLowerCase();
      if (lk === 'host') {
        if (!host) headers.push(raw[i], upstream.host);
        host = true;
      } else if (!REQUEST_HOP_BY_HOP.has(lk)) headers.push(raw[i], raw[i + 1]);
    }
    if (!host) headers.push('Host', upstream.host);
    for (const t of transforms) {
      const changed = t.apply(req.method ?? 'GET', path, headers);
      if (changed) noteRewrite(st, changed);
    }
    const proxyReq = upstream.request({ hostname: upstream.hostname, port: upstream.port, method: req.method, path, headers, agent: upstream.agent });
    st.proxyReq = proxyReq;
    proxyReq.on('socket', (sock) => sock.setNoDelay?.(true));
    proxyReq.on('response', (proxyRes) => onResponse(proxyRes, req, res, st, path));
    proxyReq.on('error', onError);
    // A failing client is seen on `res` ('close'); the upstream request goes with it.
    req.on('error', () => proxyReq.destroy());
    req.pipe(proxyReq);
  };

  /** The proxy as the client addressed it (its Host header), for URLs that must lead back to it. */
  const proxyOrigin = (req: http.IncomingMessage) => `http://${req.headers.host ?? `${host}:${port}`}`;
  /** The proxy's URL for the root of a route's upstream (its `/s/NAME` prefix under routes). */
  const routeOrigin = (req: http.IncomingMessage, st: InFlight) => proxyOrigin(req) + st.route.base;

  /** Records a change the proxy made to what it passes on (several in one exchange are all kept). */
  const noteRewrite = (st: InFlight, raw: string) => queue.push(() => {
    const ex = st.cap!.exchange;
    const what = engine.redactor.urls(raw);
    ex.rewrite = ex.rewrite ? `${ex.rewrite}; ${what}` : what;
  });

  /**
   * An OAuth protected-resource metadata document, held whole (it is small) so that a `resource` on the
   * upstream's origin can name the proxy instead; anything too big goes on as it came.
   */
  const passMetadata = (proxyRes: http.IncomingMessage, req: http.IncomingMessage, res: http.ServerResponse, st: InFlight, out: string[]) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let passing = false;
    proxyRes.on('data', (chunk: Buffer) => {
      if (passing) return;
      chunks.push(chunk);
      size += chunk.length;
      if (size <= METADATA_LIMIT) return;
      passing = true;
      res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, out);
      for (const c of chunks) res.write(c);
      proxyRes.pipe(res);
    });
    proxyRes.on('end', () => {
      if (passing) return;
      const body = Buffer.concat(chunks);
      const moved = proxiedResourceMetadata(st.route.upstream.target, body, routeOrigin(req, st));
      let headers = out;
      if (moved) {
        headers = [];
        for (let i = 0; i + 1 < out.length; i += 2) {
          // The validator was for the server's bytes, not these.
          if (!/^(content-length|transfer-encoding|etag)$/i.test(out[i])) headers.push(out[i], out[i + 1]);
        }
        headers.push('Content-Length', String(moved.body.length));
        noteRewrite(st, `oauth resource ${moved.from} → ${moved.to}`);
      }
      res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, headers);
      res.end(moved ? moved.body : body);
    });
  };

  const onResponse = (proxyRes: http.IncomingMessage, req: http.IncomingMessage, res: http.ServerResponse, st: InFlight, path: string) => {
    st.proxyRes = proxyRes;
    const target = st.route.upstream.target;
    const tHead = now();
    const status = proxyRes.statusCode ?? 502;
    const raw = pairs(proxyRes.rawHeaders);
    queue.push(() => st.cap!.responseHead(status, raw, tHead));

    const out: string[] = [];
    for (const [k, v] of raw) {
      const lk = k.toLowerCase();
      if (HOP_BY_HOP.has(lk)) continue;
      if (lk === 'transfer-encoding' && req.httpVersion === '1.0') continue;
      if (lk === 'location' && status >= 300 && status < 400) {
        const to = proxiedUrl(target, v, routeOrigin(req, st));
        if (to) {
          // A redirect to the upstream's own address (Starlette's /mcp → /mcp/) would take a client that
          // follows it past the proxy, and off the record: keep it on the proxy, as a reverse proxy does.
          out.push(k, to);
          noteRewrite(st, `location ${v} → ${to}`);
          continue;
        }
      }
      if (lk === 'www-authenticate') {
        // The OAuth challenge names the metadata URL: on the upstream's origin, the client would fetch it
        // past the proxy (see oauth-rewrite.ts).
        const moved = proxiedChallenge(target, v, routeOrigin(req, st));
        if (moved) {
          out.push(k, moved.value);
          noteRewrite(st, `www-authenticate resource_metadata ${moved.from} → ${moved.to}`);
          continue;
        }
      }
      out.push(k, v);
    }
    let rewriter: EndpointRewriter | null = null;
    if (isLegacyStreamCandidate(req, raw)) {
      rewriter = new EndpointRewriter({
        streamUrl: target.url.origin + path,
        upstreamPrefix: target.prefix,
        proxyOrigin: routeOrigin(req, st),
        routeBase: st.route.base,
        onRewrite: (from, to) => noteRewrite(st, `endpoint ${from} → ${to}`),
      });
    }
    const holdMetadata = isMetadataCandidate(req, path.slice(target.prefix.length), status, raw);
    if (!holdMetadata) res.writeHead(status, proxyRes.statusMessage, out);
    // An SSE client must see its stream open before the first event arrives: a standalone GET stream
    // may stay quiet for minutes. When an event follows soon, the head waits for it and both go out in
    // one write (servers often send the head on its own; passing it on at once cost every Streamable
    // HTTP call a write and a wake-up of the client). `res.headersSent` cannot tell whether the head
    // went out: it is true from writeHead on.
    if (mediaType(header(raw, 'content-type')) === 'text/event-stream') {
      const t = setTimeout(() => {
        if (!res.destroyed && !res.writableEnded) res.flushHeaders();
      }, STREAM_HEAD_WAIT_MS);
      t.unref();
      proxyRes.once('data', () => clearTimeout(t));
    }
    proxyRes.on('data', (chunk: Buffer) => {
      const t = now();
      queue.push(() => st.cap!.responseChunk(chunk, t));
    });
    proxyRes.on('end', () => {
      const t = now();
      queue.push(() => st.cap!.responseEnd(t));
    });
    proxyRes.on('close', () => {
      if (proxyRes.complete || st.clientGone || stopping) return;
      st.upstreamFailed = true;
      const t = now();
      queue.push(() => st.cap!.fail('upstream closed the connection mid-response', false, t));
      res.destroy();
    });
    proxyRes.on('error', () => {});
    if (holdMetadata) {
      passMetadata(proxyRes, req, res, st, out);
      return;
    }
    if (!rewriter) {
      proxyRes.pipe(res);
      return;
    }
    // A legacy stream's head goes through the rewriter by hand; once it is out, a plain pipe.
    const rw = rewriter;
    const onHead = (chunk: Buffer) => {
      const out = rw.feed(chunk);
      if (!out) return;
      proxyRes.off('data', onHead);
      proxyRes.off('end', onHeadEnd);
      if (out.length) res.write(out);
      proxyRes.pipe(res);
    };
    const onHeadEnd = () => {
      const out = rw.flush();
      res.end(out && out.length ? out : undefined);
    };
    proxyRes.on('data', onHead);
    proxyRes.on('end', onHeadEnd);
  };

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    exchanges++;
    const t0 = now();
    const url = req.url ?? '/';
    const match = routes.match(url);
    if (!match) return void unrouted(req, res, routes.unknown(url));
    const st: InFlight = { route: match.route, cap: null, proxyReq: null, proxyRes: null, upstreamFailed: false, clientGone: false };
    // Under routes, the same client talks to several servers: its sessions are told apart per route.
    const clientKey = `${match.route.base}|${req.socket.remoteAddress ?? ''}|${req.headers['user-agent'] ?? ''}`;
    const routeTarget = routes.single ? null : match.route.upstream.target.display;
    const legacyId = url.includes('sessionId=') ? new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('sessionId') : null;
    const clientAddress = req.socket.remoteAddress ? `${req.socket.remoteAddress}:${req.socket.remotePort}` : null;
    queue.push(() => {
      const raw = pairs(req.rawHeaders);
      const ex = newExchange(engine, match.route.upstream.target, req.method ?? 'GET', raw, url, match.path, t0, clientAddress);
      st.cap = new HttpExchangeCapture(engine, ex, raw, clientKey, legacyId, routeTarget);
    });
    req.on('data', (chunk: Buffer) => queue.push(() => st.cap!.requestChunk(chunk)));
    req.on('end', () => queue.push(() => st.cap!.requestEnd()));
    res.on('close', () => {
      if (res.writableFinished || st.upstreamFailed) return;
      st.clientGone = true;
      // The client went away: stop the upstream request too, or a long SSE stream would leak.
      st.proxyRes?.destroy();
      st.proxyReq?.destroy();
      const t = now();
      queue.push(() => st.cap!.fail(null, true, t));
    });

    // Upstream, the path carries the --target prefix.
    forward(req, res, st, upstreamPath(match.route.upstream.target, match.path), (err: NodeJS.ErrnoException) => {
      const t = now();
      const cause = `${err.code ?? 'ERROR'}: ${err.message}`;
      st.upstreamFailed = true;
      if (res.headersSent) {
        res.destroy();
        queue.push(() => st.cap!.fail(cause, false, t));
        return;
      }
      const body = JSON.stringify({ error: 'mcptap: the upstream request failed', target: match.route.upstream.target.display, cause });
      const headers: Array<[string, string]> = [['content-type', 'application/json'], ['x-mcptap-error', 'upstream']];
      res.writeHead(502, headers.flat());
      res.end(body);
      queue.push(() => st.cap!.answeredByProxy(502, headers, body, cause, t));
    });
  });

  const bridges = new Map(routes.list().map((r) => [r, new WebSocketBridge(engine, r.upstream.target, { insecure: !!opts.insecure, sessionTarget: routes.single ? undefined : r.upstream.target.display })]));
  server.on('upgrade', (req, socket, head) => {
    const match = routes.match(req.url ?? '/');
    if (!match) return void socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${routes.unknown(req.url ?? '/')}\n`);
    // The bridge sees the path below the route's prefix, as it would behind a single --target.
    req.url = match.path;
    bridges.get(match.route)!.handle(req, socket as Socket, head);
  });
  server.on('clientError', badRequestRefuser(warn));

  let port = opts.port ?? 0;
  port = await listen(server, port, host).catch(async (e) => {
    await store?.close();
    throw e;
  });
  const shownHost = host.includes(':') ? `[${host}]` : host;

  const settle = async () => {
    // Let pending socket callbacks and zlib work land in the queue, then run it.
    const deadline = Date.now() + 2000;
    for (let i = 0; i < 3 || (pendingDecodes() > 0 && Date.now() < deadline); i++) {
      await new Promise((r) => setImmediate(r));
      queue.flush();
    }
  };

  let closed: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    host,
    target,
    routes,
    engine,
    stats: () => ({
      exchanges,
      webSockets: [...bridges.values()].reduce((n, b) => n + b.count, 0),
      captureFailures: queue.failures,
      written: store?.recorder.stats.written ?? 0,
      pendingWrites: store?.recorder.stats.pending ?? 0,
      writeFailures: store?.recorder.stats.failures ?? 0,
      droppedWrites: store?.recorder.stats.dropped ?? 0,
      cutPayloads: store?.recorder.cut ?? 0,
    }),
    flush: async () => {
      await settle();
      await store?.flush();
    },
    close: () => {
      stopping = true;
      closed ??= (async () => {
        queue.push(() => engine.streams.stopAll(now()));
        queue.flush();
        const done = new Promise<void>((r) => server.close(() => r()));
        for (const b of bridges.values()) b.closeAll();
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
        await done;
        routes.destroy();
        await settle();
        engine.tracker.endAll('proxy-stopped', now());
        engine.conversations.endAll('proxy-stopped', now());
        queue.flush();
        await store?.close();
      })();
      return closed;
    },
  };
}

/** A protected-resource metadata document small and plain enough to hold and read whole. */
function isMetadataCandidate(req: http.IncomingMessage, path: string, status: number, raw: Array<[string, string]>): boolean {
  const length = header(raw, 'content-length');
  return req.method === 'GET' && status === 200 &&
    isResourceMetadataPath(path) &&
    mediaType(header(raw, 'content-type')).includes('json') &&
    !/\S/.test((header(raw, 'content-encoding') ?? '').replace(/identity/i, '')) &&
    (length == null || Number(length) <= METADATA_LIMIT);
}

function isLegacyStreamCandidate(req: http.IncomingMessage, raw: Array<[string, string]>): boolean {
  return req.method === 'GET' &&
    mediaType(header(raw, 'content-type')) === 'text/event-stream' &&
    !header(raw, 'content-length') &&
    !/\S/.test((header(raw, 'content-encoding') ?? '').replace(/identity/i, '')) &&
    !req.headers['mcp-session-id'] &&
    // A Streamable HTTP client's standalone stream (to a stateless server, it carries no session id).
    !req.headers['mcp-protocol-version'];
}

/** A path under routes that names none: answered here, since there is nowhere to send it. */
function unrouted(req: http.IncomingMessage, res: http.ServerResponse, message: string): void {
  req.resume();
  res.writeHead(404, { 'content-type': 'application/json', 'x-mcptap-error': 'no-route' });
  res.end(JSON.stringify({ error: message }));
}

function newExchange(engine: CaptureEngine, target: Target, method: string, raw: HeaderList, url: string, path: string, t0: number, clientAddress: string | null): Exchange {
  return {
    id: newExchangeId(),
    sessionId: null,
    kind: 'http',
    method,
    url: engine.redactor.url(url),
    upstreamUrl: engine.redactor.url(upstreamUrl(target, path)),
    status: null,
    requestHeaders: engine.redactor.headers(raw),
    responseHeaders: null,
    startedAt: t0,
    firstByteAt: null,
    endedAt: null,
    requestBytes: 0,
    responseBytes: 0,
    requestBody: null,
    responseBody: null,
    requestTruncated: false,
    responseTruncated: false,
    error: null,
    aborted: false,
    closedBy: null,
    rewrite: null,
    clientAddress,
  };
}
