import type http from 'node:http';
import type { CaptureEngine } from '../capture/engine.js';
import { startHttpCapture } from '../capture/client-facts.js';
import type { HttpExchangeCapture } from '../capture/http-exchange.js';
import { now } from '../model/clock.js';
import { failureText } from '../model/facts.js';
import { pairs } from '../model/headers.js';
import type { Failure, HeaderList, Rewrite } from '../model/model.js';
import { interceptRequest, type Interceptor } from './intercept.js';
import type { Route, RouteTable } from './routes.js';
import { answerGate } from './response-intercept.js';
import { holdStreamHead, isEventStream } from './stream-head.js';
import { upstreamPath, upstreamUrl } from './target.js';
import type { BodyRewriter, TransformContext, TransformPipeline } from './transforms.js';
import { upstreamFailureOf } from './upstream-tls.js';

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

export interface ForwarderDeps {
  engine: CaptureEngine;
  routes: RouteTable;
  transforms: TransformPipeline;
  /** `--hold`: client messages (and, dir:s2c, a stream's server events) held until forwarded, answered or dropped. */
  interceptor?: Interceptor;
  /** The proxy as the client addressed it (its Host header), for URLs that must lead back to it. */
  proxyOrigin(req: http.IncomingMessage): string;
  /** The proxy is stopping: streams it cuts are not upstream failures. */
  stopping(): boolean;
}

/**
 * The HTTP forwarder: one client request goes to its route's upstream and the answer comes back, bytes as
 * they arrive; the taps push what they see onto the capture queue, where an HttpExchangeCapture reads it.
 * A direct http.request: http-proxy's per-request set-up (URL parsing, option merging, event fan-out) cost
 * more CPU per call than the capture's decoding.
 */
export class HttpForwarder {
  /** Requests handled so far. */
  exchanges = 0;

  constructor(private readonly d: ForwarderDeps) {}

  /** One client request (past the port's Host/Origin rule): captured, forwarded or held, answered. */
  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const { engine, routes, interceptor } = this.d;
    const queue = engine.queue;
    this.exchanges++;
    const t0 = now();
    const url = req.url ?? '/';
    const match = routes.match(url, req.socket);
    if (!match) return void unrouted(req, res, routes.unknown(url));
    const st: InFlight = { route: match.route, cap: null, proxyReq: null, proxyRes: null, upstreamFailed: false, clientGone: false, transform: null };
    const start = startHttpCapture(req, t0);
    queue.push(() => {
      const route = match.route;
      st.cap = start(engine, {
        route: route.base || route.name, url: routes.isForward ? match.path : url, upstreamUrl: upstreamUrl(route.upstream.target, match.path),
        target: routes.single ? null : route.upstream.target.display, routeName: routes.single ? null : route.name,
      });
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
    const go = (body?: Buffer) => this.forward(req, res, st, upstreamPath(match.route.upstream.target, match.path), onError, body);
    if (!interceptor || req.method !== 'POST') return go();
    interceptRequest(interceptor, req, res, match.route.name, {
      forward: go,
      record: (change) => this.noteRewrite(st, change),
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
  };

  /** Records a change the proxy made to what it passes on (several in one exchange are all kept). */
  private noteRewrite(st: InFlight, change: Rewrite): void {
    this.d.engine.queue.push(() => st.cap!.rewrote(change));
  }

  /**
   * The request goes upstream with its headers as the client sent them (case, order, repeats), except
   * Host, which names the target, and the hop-by-hop ones, which describe the client's connection.
   */
  private forward(req: http.IncomingMessage, res: http.ServerResponse, st: InFlight, path: string, onError: (err: NodeJS.ErrnoException) => void, body?: Buffer): void {
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
      method: req.method ?? 'GET', path, target: upstream.target, proxyOrigin: this.d.proxyOrigin(req) + st.route.base, routeBase: st.route.base,
      requestHeaders: req.headers, record: (change) => this.noteRewrite(st, change),
    };
    this.d.transforms.request(st.transform, headers);
    const proxyReq = upstream.request({ hostname: upstream.hostname, port: upstream.port, method: req.method, path, headers, agent: upstream.agent });
    st.proxyReq = proxyReq;
    proxyReq.on('socket', (sock) => sock.setNoDelay?.(true));
    proxyReq.on('response', (proxyRes) => this.onResponse(proxyRes, req, res, st));
    proxyReq.on('error', onError);
    // A failing client is seen on `res` ('close'); the upstream request goes with it.
    req.on('error', () => proxyReq.destroy());
    if (body) proxyReq.end(body);
    else req.pipe(proxyReq);
  }

  private onResponse(proxyRes: http.IncomingMessage, req: http.IncomingMessage, res: http.ServerResponse, st: InFlight): void {
    const { engine: { queue }, transforms } = this.d;
    st.proxyRes = proxyRes;
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
    const held = this.d.interceptor ? answerGate(this.d.interceptor, req.method, raw, !!body, st.route.name, { record: (c) => this.noteRewrite(st, c), injected: (text) => void queue.push(() => st.cap!.injected(text, now())) }) : null;
    if (!body?.holdsHead && !held?.holdsHead) res.writeHead(status, proxyRes.statusMessage, out);
    const eventStream = isEventStream(raw);
    if (eventStream) holdStreamHead(res, proxyRes);
    proxyRes.on('data', (chunk: Buffer) => {
      const t = now();
      queue.push(() => st.cap!.responseChunk(chunk, t));
    });
    proxyRes.on('end', () => {
      const t = now();
      queue.push(() => st.cap!.responseEnd(t));
    });
    proxyRes.on('close', () => {
      if (proxyRes.complete || st.clientGone || this.d.stopping()) return;
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
  }
}

/** A body a transform holds: what it lets go of is sent, then the rest is piped as it comes. */
function passRewritten(proxyRes: http.IncomingMessage, res: http.ServerResponse, body: BodyRewriter, status: number, out: string[], passRest: (first?: Buffer) => void): void {
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
}

/** A path under routes that names none: answered here, since there is nowhere to send it. */
function unrouted(req: http.IncomingMessage, res: http.ServerResponse, message: string): void {
  req.resume();
  res.writeHead(404, { 'content-type': 'application/json', 'x-mcptap-error': 'no-route' });
  res.end(JSON.stringify({ error: message }));
}
