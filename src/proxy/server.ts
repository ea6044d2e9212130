import http from 'node:http';
import type { Socket } from 'node:net';
import { CaptureEngine } from '../capture/engine.js';
import { badRequestRefuser } from './client-error.js';
import { now } from '../model/clock.js';
import { listen } from './listen.js';
import { UsageError } from '../errors.js';
import { pendingDecodes } from '../wire/body.js';
import { tuneHeapForStreaming } from './heap.js';
import { parseTarget, type Target } from './target.js';
import { RouteTable } from './routes.js';
import { WebSocketBridge } from './ws-bridge.js';
import { HttpForwarder } from './forwarder.js';
import { transformsFor } from './transforms.js';
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
  const transforms = transformsFor(opts);
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

  /** The proxy as the client addressed it (its Host header), for URLs that must lead back to it. */
  const proxyOrigin = (req: http.IncomingMessage) => `http://${req.headers.host ?? `${host}:${port}`}`;
  const forwarder = new HttpForwarder({ engine, routes, transforms, proxyOrigin, stopping: () => stopping });

  server.on('request', forwarder.handle);

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
      exchanges: forwarder.exchanges,
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
