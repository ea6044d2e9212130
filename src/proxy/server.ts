import http from 'node:http';
import type { Socket } from 'node:net';
import { CaptureEngine } from '../capture/engine.js';
import { badRequestRefuser } from './client-error.js';
import { now } from '../model/clock.js';
import { pairs, header, mediaType } from '../model/headers.js';
import { HttpExchangeCapture } from '../capture/http-exchange.js';
import type { Failure, HeaderList, Rewrite } from '../model/model.js';
import { failureText } from '../model/facts.js';
import { newExchange } from '../capture/new-exchange.js';
import { listen } from './listen.js';
import { UsageError } from '../errors.js';
import { pendingDecodes } from '../wire/body.js';
import { tuneHeapForStreaming } from './heap.js';
import { parseTarget, upstreamPath, upstreamUrl, type Target } from './target.js';
import { RouteTable, type Route } from './routes.js';
import { WebSocketBridge } from './ws-bridge.js';
import { PortGate } from './host-guard.js';
import type { CaptureLimitOptions, LimitKind } from '../capture/limits.js';
import { transformsFor, type BodyRewriter, type TransformContext } from './transforms.js';
import { attachRecorder, type AttachedStore } from './store-link.js';
import { forwardOriginOf, upstreamCas, upstreamFailureOf } from './upstream-tls.js';
import { connectHandler, type InterceptPolicy } from './forward.js';
import { interceptRequest, type Interceptor } from './intercept.js';
import { answerGate } from './response-intercept.js';
import { legacySessionIdOf } from '../wire/legacy-endpoint.js';

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
  /**
   * Forward mode (`--forward`): an HTTP forward proxy (HTTPS_PROXY) instead of --target; CONNECT tunnels to the
   * policy's hosts are intercepted with mcptap's CA, the rest relayed blind. `upstreamCa`: more CA files to trust.
   */
  forward?: { policy: InterceptPolicy; upstreamCa?: string[]; caDir?: string };
  /** Holds the client messages that match (`--hold FILTER`) until they are forwarded, answered or dropped. */
  interceptor?: Interceptor;
  /** Host names and browser origins the listening port also serves (src/proxy/host-guard.ts). */
  allowHosts?: string[];
  allowOrigins?: string[];
  /** What the capture keeps of hostile input (src/capture/limits.ts); forwarding is never limited. */
  limits?: CaptureLimitOptions;
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
  /** Requests refused with 403 for their Host or Origin. */
  refused: number;
  /** Times each capture limit applied (src/capture/limits.ts). */
  limited: Record<LimitKind, number>;
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
  /** What the transforms see of this exchange; made when the request goes upstream. */
  transform: TransformContext | null;
}

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  if (!opts.target && !opts.routes && !opts.forward) throw new UsageError('give --target, or routes to serve');
  // Forward mode checks the real hosts' certificates against these (Node's roots, NODE_EXTRA_CA_CERTS, --upstream-ca).
  const upstreamCa = opts.forward ? upstreamCas(opts.forward.upstreamCa) : undefined;
  const routes = opts.forward ? RouteTable.forward({ ca: upstreamCa }, !!opts.insecure)
    : opts.routes ? RouteTable.named(opts.routes, !!opts.insecure) : RouteTable.single(parseTarget(opts.target!), !!opts.insecure);
  // Forward mode has no one upstream: each request names its own.
  const target = routes.list()[0]?.upstream.target ?? parseTarget('http://forward-proxy.invalid');
  const issuer = opts.forward ? await (await import('./ca.js')).LeafIssuer.load(opts.forward.caDir ? { dir: opts.forward.caDir, certPath: `${opts.forward.caDir}/ca.pem`, keyPath: `${opts.forward.caDir}/ca-key.pem` } : undefined) : null;
  tuneHeapForStreaming();
  const host = opts.host ?? '127.0.0.1';
  const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`mcptap: ${m}\n`));
  const engine = new CaptureEngine({ target: routes.single ? target.display : routes.isForward ? 'forward' : 'routes', label: opts.label, redact: opts.redact, maxBody: opts.maxBody, maxStreamBody: opts.maxStreamBody, limits: opts.limits });
  engine.hub.on('warning', warn);
  const store: AttachedStore | null = opts.db ? attachRecorder(engine.hub, opts.db, warn) : null;
  // Fingerprints of one secret match across every capture into this database.
  if (store) engine.useFingerprintKey(store.fingerprintKey);
  const queue = engine.queue;
  const gate = new PortGate({ host, allowHosts: opts.allowHosts, allowOrigins: opts.allowOrigins }, warn);

  // A forward proxy's requests name another host by design (absolute-form, or inside a CONNECT tunnel): the
  // Host/Origin rule guards what is addressed to the proxy itself.
  const isForwarded = (req: http.IncomingMessage) => routes.isForward && !!forwardOriginOf(req.url ?? '/', req.socket);
  const sockets = new Set<Socket>();
  const transforms = transformsFor(opts);
  const forwardCounters = { tunnels: 0, intercepted: 0 };
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
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, st: InFlight, path: string, onError: (err: NodeJS.ErrnoException) => void, body?: Buffer) => {
    const upstream = st.route.upstream;
    const raw = req.rawHeaders;
    const headers: string[] = [];
    let host = false;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const lk = raw[i].toLowerCase();
      if (lk === 'host') {
        if (!host) headers.push(raw[i], upstream.host);
        host = true;
      } else if (!REQUEST_HOP_BY_HOP.has(lk) && !(body && (lk === 'content-length' || lk === 'transfer-encoding'))) headers.push(raw[i], raw[i + 1]);
    }
    if (!host) headers.push('Host', upstream.host);
    // A body the intercept held (and perhaps edited) goes whole, with its own length.
    if (body) headers.push('Content-Length', String(body.length));
    st.transform = {
      method: req.method ?? 'GET', path, target: upstream.target, proxyOrigin: routeOrigin(req, st), routeBase: st.route.base,
      requestHeaders: req.headers, record: (change) => noteRewrite(st, change),
    };
    transforms.request(st.transform, headers);
    const proxyReq = upstream.request({ hostname: upstream.hostname, port: upstream.port, method: req.method, path, headers, agent: upstream.agent });
    st.proxyReq = proxyReq;
    proxyReq.on('socket', (sock) => sock.setNoDelay?.(true));
    proxyReq.on('response', (proxyRes) => onResponse(proxyRes, req, res, st, path));
    proxyReq.on('error', onError);
    // A failing client is seen on `res` ('close'); the upstream request goes with it.
    req.on('error', () => proxyReq.destroy());
    if (body) proxyReq.end(body);
    else req.pipe(proxyReq);
  };

  /** The proxy as the client addressed it (its Host header), for URLs that must lead back to it. */
  const proxyOrigin = (req: http.IncomingMessage) => `http://${req.headers.host ?? `${host}:${port}`}`;
  /** The proxy's URL for the root of a route's upstream (its `/s/NAME` prefix under routes). */
  const routeOrigin = (req: http.IncomingMessage, st: InFlight) => proxyOrigin(req) + st.route.base;

  /** Records a change the proxy made to what it passes on (several in one exchange are all kept). */
  const noteRewrite = (st: InFlight, change: Rewrite) => queue.push(() => st.cap!.rewrote(change));

  const onResponse = (proxyRes: http.IncomingMessage, req: http.IncomingMessage, res: http.ServerResponse, st: InFlight, path: string) => {
    st.proxyRes = proxyRes;
    const target = st.route.upstream.target;
    const tHead = now();
    const status = proxyRes.statusCode ?? 502;
    const raw = pairs(proxyRes.rawHeaders);
    queue.push(() => st.cap!.responseHead(status, raw, tHead));

    let out: string[] = [];
    for (const [k, v] of raw) {
      const lk = k.toLowerCase();
      if (HOP_BY_HOP.has(lk)) continue;
      if (lk === 'transfer-encoding' && req.httpVersion === '1.0') continue;
      out.push(k, v);
    }
    const ctx = st.transform!;
    out = transforms.responseHeaders(ctx, status, out);
    const body = transforms.responseBody(ctx, status, raw);
    // --hold: the server's answers one message at a time (src/proxy/response-intercept.ts).
    const held = opts.interceptor ? answerGate(opts.interceptor, req.method, raw, !!body, st.route.name, { record: (c) => noteRewrite(st, c), injected: (text) => void queue.push(() => st.cap!.injected(text, now())) }) : null;
    if (!body?.holdsHead && !held?.holdsHead) res.writeHead(status, proxyRes.statusMessage, out);
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
      queue.push(() => st.cap!.fail({ kind: 'body-cut', body: 'response', by: 'server', code: null }, t));
      res.destroy();
    });
    proxyRes.on('error', () => {});
    const pass = (first?: Buffer) => {
      if (held) return held.run(proxyRes, res, status, out, first);
      if (first) res.write(first);
      proxyRes.pipe(res);
    };
    if (body) passRewritten(proxyRes, res, body, status, out, pass);
    else pass();
  };

  /** A body a transform holds: what it lets go of is sent, then the rest is piped as it comes. */
  const passRewritten = (proxyRes: http.IncomingMessage, res: http.ServerResponse, body: BodyRewriter, status: number, out: string[], passRest: (first?: Buffer) => void) => {
    const release = (bytes: Buffer, ended: boolean) => {
      proxyRes.off('data', onData);
      proxyRes.off('end', onEnd);
      if (body.holdsHead) res.writeHead(status, proxyRes.statusMessage, body.head(out));
      if (ended) return void res.end(bytes.length ? bytes : undefined);
      passRest(bytes.length ? bytes : undefined);
    };
    const onData = (chunk: Buffer) => {
      const bytes = body.feed(chunk);
      if (bytes) release(bytes, false);
    };
    const onEnd = () => release(body.end(), true);
    proxyRes.on('data', onData);
    proxyRes.on('end', onEnd);
  };

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!isForwarded(req) && gate.request(req, res)) return;
    exchanges++;
    const t0 = now();
    const url = req.url ?? '/';
    const match = routes.match(url, req.socket);
    if (!match) return void unrouted(req, res, routes.unknown(url));
    const st: InFlight = { route: match.route, cap: null, proxyReq: null, proxyRes: null, upstreamFailed: false, clientGone: false, transform: null };
    // Under routes, the same client talks to several servers: its sessions are told apart per route.
    const clientKey = `${match.route.base || match.route.name}|${req.socket.remoteAddress ?? ''}|${req.headers['user-agent'] ?? ''}`;
    // A route's upstream URL can hold a key (`/api/mcp/<key>/mcp`); it is stored as the session's target.
    const routeTarget = routes.single ? null : engine.redactor.url(match.route.upstream.target.display);
    const legacyId = legacySessionIdOf(url);
    const clientAddress = req.socket.remoteAddress ? `${req.socket.remoteAddress}:${req.socket.remotePort}` : null;
    queue.push(() => {
      const raw = pairs(req.rawHeaders);
      const r = engine.redactor;
      const ex = newExchange({ kind: 'http', method: req.method ?? 'GET', url: r.url(routes.isForward ? match.path : url), upstreamUrl: r.url(upstreamUrl(match.route.upstream.target, match.path)), requestHeaders: r.headers(raw), startedAt: t0, clientAddress });
      st.cap = new HttpExchangeCapture(engine, ex, raw, clientKey, legacyId, routeTarget, routes.single ? null : match.route.name);
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
      queue.push(() => st.cap!.fail({ kind: 'client-aborted' }, t));
    });

    // Upstream, the path carries the --target prefix.
    const onError = (err: NodeJS.ErrnoException) => {
      // The client left first and its going took the upstream request down: nothing failed upstream.
      if (st.clientGone) return;
      const t = now();
      const code = err.code ?? 'ERROR';
      st.upstreamFailed = true;
      if (res.headersSent) {
        // The answer had begun: what the client got is cut short.
        res.destroy();
        queue.push(() => st.cap!.fail({ kind: 'body-cut', body: 'response', by: 'server', code }, t));
        return;
      }
      const failure: Failure = upstreamFailureOf(err);
      const body = JSON.stringify({ error: 'mcptap: the upstream request failed', target: match.route.upstream.target.display, cause: failureText(failure) });
      const headers: HeaderList = [['content-type', 'application/json'], ['x-mcptap-error', failure.kind]];
      res.writeHead(502, headers.flat());
      res.end(body);
      queue.push(() => st.cap!.answeredByProxy(502, headers, body, failure, t));
    };
    const go = (body?: Buffer) => forward(req, res, st, upstreamPath(match.route.upstream.target, match.path), onError, body);
    if (!opts.interceptor || req.method !== 'POST') return go();
    interceptRequest(opts.interceptor, req, res, match.route.name, {
      forward: go,
      record: (change) => noteRewrite(st, change),
      answered: (status, headers, body, failure) => {
        const t = now();
        queue.push(() => {
          if (failure) return st.cap!.answeredByProxy(status, headers, body, failure, t);
          st.cap!.responseHead(status, headers, t);
          st.cap!.responseChunk(Buffer.from(body), t);
          st.cap!.responseEnd(t);
        });
      },
    });
  });

  const bridges = new Map<Route, WebSocketBridge>();
  const bridgeFor = (r: Route) => {
    let b = bridges.get(r);
    if (!b) bridges.set(r, b = new WebSocketBridge(engine, r.upstream.target, { insecure: !!opts.insecure, sessionTarget: routes.single ? undefined : engine.redactor.url(r.upstream.target.display), sessionLabel: routes.single ? undefined : r.name, interceptor: opts.interceptor, route: r.name, ca: upstreamCa }));
    return b;
  };
  for (const r of routes.list()) bridgeFor(r);
  server.on('upgrade', (req, socket, head) => {
    // Node's server leaves an upgraded socket without an error listener: a client reset must not crash us.
    socket.on('error', () => {});
    if (!isForwarded(req) && gate.upgrade(req, socket)) return;
    const match = routes.match(req.url ?? '/', req.socket);
    if (!match) return void socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${routes.unknown(req.url ?? '/')}\n`);
    // The bridge sees the path below the route's prefix, as it would behind a single --target.
    req.url = match.path;
    bridgeFor(match.route).handle(req, socket as Socket, head);
  });
  if (issuer) {
    server.on('connect', connectHandler({
      engine, issuer, policy: opts.forward!.policy, counters: forwardCounters,
      server,
      track: (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      },
    }));
  }
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
      refused: gate.refused,
      limited: { ...engine.limits.counts },
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

/** A path under routes that names none: answered here, since there is nowhere to send it. */
function unrouted(req: http.IncomingMessage, res: http.ServerResponse, message: string): void {
  req.resume();
  res.writeHead(404, { 'content-type': 'application/json', 'x-mcptap-error': 'no-route' });
  res.end(JSON.stringify({ error: message }));
}
