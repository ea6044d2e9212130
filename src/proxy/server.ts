import type http from 'node:http';
import type { Socket } from 'node:net';
import { CaptureEngine } from '../capture/engine.js';
import type { CaptureLimitOptions } from '../capture/limits.js';
import { UsageError } from '../errors.js';
import { badRequestRefuser } from './client-error.js';
import { connectHandler, type InterceptPolicy } from './forward.js';
import { HttpForwarder } from './forwarder.js';
import { tuneHeapForStreaming } from './heap.js';
import { PortGate } from './host-guard.js';
import type { Interceptor } from './intercept.js';
import { ProxyLifecycle, type ProxyStats } from './lifecycle.js';
import { RouteTable } from './routes.js';
import { attachRecorder, type AttachedStore } from './store-link.js';
import { parseTarget, type Target } from './target.js';
import { transformsFor } from './transforms.js';
import { forwardOriginOf, upstreamCas } from './upstream-tls.js';
import { WebSocketRoutes } from './ws-routes.js';

export type { ProxyStats } from './lifecycle.js';

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

/**
 * The composition root: builds the capture engine, the recorder, the routes and the port's Host/Origin rule,
 * and wires the units that do the work onto one HTTP server: HttpForwarder (forwarder.ts) for each HTTP
 * request, WebSocketRoutes (ws-routes.ts) for upgrades, forward mode's CONNECT handler (forward.ts), and
 * ProxyLifecycle (lifecycle.ts) for listen, close and stats.
 */
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
  const gate = new PortGate({ host, allowHosts: opts.allowHosts, allowOrigins: opts.allowOrigins }, warn);
  // A forward proxy's requests name another host by design (absolute-form, or inside a CONNECT tunnel): the
  // Host/Origin rule guards what is addressed to the proxy itself.
  const isForwarded = (req: http.IncomingMessage) => routes.isForward && !!forwardOriginOf(req.url ?? '/', req.socket);

  let port = opts.port ?? 0;
  const forwarder = new HttpForwarder({
    engine, routes, transforms: transformsFor(opts), interceptor: opts.interceptor,
    proxyOrigin: (req) => `http://${req.headers.host ?? `${host}:${port}`}`,
    stopping: (): boolean => life.stopping,
  });
  const webSockets = new WebSocketRoutes(engine, routes, { insecure: !!opts.insecure, interceptor: opts.interceptor, ca: upstreamCa });
  const life = new ProxyLifecycle({
    engine, store, routes, webSockets,
    counts: () => ({ exchanges: forwarder.exchanges, webSockets: webSockets.count, refused: gate.refused }),
  });
  const server = life.server;
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!isForwarded(req) && gate.request(req, res)) return;
    forwarder.handle(req, res);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    // Node's server leaves an upgraded socket without an error listener: a client reset must not crash us.
    socket.on('error', () => {});
    if (!isForwarded(req) && gate.upgrade(req, socket)) return;
    webSockets.handle(req, socket, head);
  });
  if (issuer) server.on('connect', connectHandler({ engine, issuer, policy: opts.forward!.policy, counters: { tunnels: 0, intercepted: 0 }, server, track: life.track, warn }));
  server.on('clientError', badRequestRefuser(warn));

  port = await life.listen(port, host);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    host,
    target,
    routes,
    engine,
    stats: () => life.stats(),
    flush: () => life.flush(),
    close: () => life.close(),
  };
}
