import http from 'node:http';
import type { Socket } from 'node:net';
import type { CaptureEngine } from '../capture/engine.js';
import type { LimitKind } from '../capture/limits.js';
import { now } from '../model/clock.js';
import { decodesDrained, pendingDecodes } from '../wire/body.js';
import { listen } from './listen.js';
import type { RouteTable } from './routes.js';
import type { AttachedStore } from './store-link.js';

/** How long flush and shutdown wait for bodies still decoding (each of up to five rounds). */
const SETTLE_DECODES_MS = 6000;

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

export interface LifecycleParts {
  engine: CaptureEngine;
  store: AttachedStore | null;
  routes: RouteTable;
  /** The WebSocket relays, closed with the proxy. */
  webSockets: { closeAll(): void };
  /** What the forwarding units counted. */
  counts(): { exchanges: number; webSockets: number; refused: number };
}

/**
 * The proxy's HTTP server from listen to close, and its stats: every client socket is tracked (tunnels
 * included) so that close ends them all, then the capture queue is drained, open sessions end as
 * `proxy-stopped` and the recorder writes the rest.
 */
export class ProxyLifecycle {
  // Node closes an idle client connection after 5 s, the moment a client (undici: 4 s, told 5) may send
  // its next request on it: under load that request met a reset. A proxy outlasts its clients' idle time.
  readonly server = http.createServer({ noDelay: true, keepAliveTimeout: 65_000 });
  /** Set from close() on: streams cut by our own shutdown are not upstream failures. */
  stopping = false;
  private readonly sockets = new Set<Socket>();
  private closed: Promise<void> | null = null;

  constructor(private readonly p: LifecycleParts) {
    this.server.headersTimeout = 66_000;
    this.server.on('connection', this.track);
  }

  /** A client socket close() must end (CONNECT tunnels hand theirs here too). */
  readonly track = (s: Socket): void => {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  };

  /** Listens (the port, or a free one for 0); on failure the store is closed before the error goes up. */
  async listen(port: number, host: string): Promise<number> {
    return listen(this.server, port, host).catch(async (e) => {
      await this.p.store?.close();
      throw e;
    });
  }

  stats(): ProxyStats {
    const { engine, store } = this.p;
    const recorder = store?.recorder;
    const { exchanges, webSockets, refused } = this.p.counts();
    return {
      exchanges,
      webSockets,
      captureFailures: engine.queue.failures,
      written: recorder?.stats.written ?? 0,
      pendingWrites: recorder?.stats.pending ?? 0,
      writeFailures: recorder?.stats.failures ?? 0,
      droppedWrites: recorder?.stats.dropped ?? 0,
      cutPayloads: recorder?.cut ?? 0,
      refused,
      limited: { ...engine.limits.counts },
    };
  }

  /** Runs queued capture work and writes it (tests, shutdown). */
  async flush(): Promise<void> {
    await this.settle();
    await this.p.store?.flush();
  }

  close(): Promise<void> {
    this.stopping = true;
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    const { engine, store, routes, webSockets } = this.p;
    const queue = engine.queue;
    queue.push(() => engine.streams.stopAll(now()));
    queue.flush();
    const done = new Promise<void>((r) => this.server.close(() => r()));
    webSockets.closeAll();
    this.server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    await done;
    routes.destroy();
    await this.settle();
    engine.tracker.endAll('proxy-stopped', now());
    engine.conversations.endAll('proxy-stopped', now());
    queue.flush();
    await store?.close();
  }

  /**
   * Lets pending socket callbacks and zlib work land in the capture queue, then runs it. zlib works in the
   * thread pool, and on a loaded machine a large body takes seconds: waited for (not polled), up to a bound
   * so a stuck decoder never holds shutdown.
   */
  private async settle(): Promise<void> {
    const turns = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setImmediate(r));
        this.p.engine.queue.flush();
      }
    };
    await turns();
    for (let round = 0; round < 5 && pendingDecodes() > 0; round++) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => { timer = setTimeout(r, SETTLE_DECODES_MS); });
      await Promise.race([decodesDrained(), bound]);
      clearTimeout(timer);
      await turns();
    }
  }

}
