import type http from 'node:http';
import type { Socket } from 'node:net';
import type { CaptureEngine } from '../capture/engine.js';
import type { Interceptor } from './intercept.js';
import type { Route, RouteTable } from './routes.js';
import { WebSocketBridge } from './ws-bridge.js';

/** WebSocket upgrades, each handed to its route's bridge (one per route, made when first needed). */
export class WebSocketRoutes {
  private readonly bridges = new Map<Route, WebSocketBridge>();

  constructor(private readonly engine: CaptureEngine, private readonly routes: RouteTable, private readonly opts: { insecure: boolean; interceptor?: Interceptor; ca?: string[] }) {
    for (const r of routes.list()) this.bridgeFor(r);
  }

  /** One upgrade request (past the port's Host/Origin rule): relayed by its route's bridge, or 404. */
  handle(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const match = this.routes.match(req.url ?? '/', req.socket);
    if (!match) return void socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${this.routes.unknown(req.url ?? '/')}\n`);
    // The bridge sees the path below the route's prefix, as it would behind a single --target.
    req.url = match.path;
    this.bridgeFor(match.route).handle(req, socket, head);
  }

  /** Upgrades relayed so far. */
  get count(): number {
    let n = 0;
    for (const b of this.bridges.values()) n += b.count;
    return n;
  }

  closeAll(): void {
    for (const b of this.bridges.values()) b.closeAll();
  }

  private bridgeFor(r: Route): WebSocketBridge {
    let b = this.bridges.get(r);
    if (!b) {
      const { engine, routes, opts } = this;
      // Under routes, a route's upstream is its sessions' target (redacted: it can hold a key) and its name their label.
      b = new WebSocketBridge(engine, r.upstream.target, { insecure: opts.insecure, sessionTarget: routes.single ? undefined : engine.redactor.url(r.upstream.target.display), sessionLabel: routes.single ? undefined : r.name, interceptor: opts.interceptor, route: r.name, ca: opts.ca });
      this.bridges.set(r, b);
    }
    return b;
  }
}
