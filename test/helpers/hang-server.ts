import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { CancelledNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { listen, WsServerTransport, type Peer, type TransportKind } from './peers.js';

// A real SDK server whose `slow` tool hangs until the test lets it go: the peer of the "why did my call
// hang" tests. Everything it does is driven by events (the test's gate, the client's cancellation), never
// by timers, so each scenario happens the same way on a loaded machine.

export interface HangOptions {
  /** Ignore notifications/cancelled (keep working and answer anyway), as many servers do. */
  ignoreCancel?: boolean;
  /** Streamable HTTP: keep events (an event store) so that a client can resume a dropped stream. */
  resumable?: boolean;
}

export interface HangServer extends Peer {
  /** Resolves with each call of `slow` as it starts. */
  called(): Promise<SlowCall>;
  /** Ends the standalone GET stream of the (last) Streamable HTTP session. */
  closeStandaloneStream(): void;
}

export interface SlowCall {
  /** Lets the tool answer. */
  release(): void;
  /** The client's cancellation reached the tool (its signal aborted). */
  cancelled: Promise<void>;
  /** Drops the stream the answer is due on: destroys its socket (or, resumable, closes it as the SDK's polling does). */
  drop(): void;
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined));
  });
}

export async function startHangServer(kind: TransportKind, opts: HangOptions = {}): Promise<HangServer> {
  const waiting: Array<(c: SlowCall) => void> = [];
  const ready: SlowCall[] = [];
  /** What drops the stream of the call that is running (set by the transport). */
  let dropCurrent: (closeSse?: () => void) => void = () => {};
  const standalone: Array<() => void> = [];
  const make = () => {
    const server = new McpServer({ name: 'hang', version: '1.0.0' });
    if (opts.ignoreCancel) server.server.setNotificationHandler(CancelledNotificationSchema, () => {});
    server.registerTool('echo', { description: 'Echo', inputSchema: { message: z.string() } }, async ({ message }) => ({ content: [{ type: 'text' as const, text: message }] }));
    server.registerTool('slow', { description: 'Waits until released', inputSchema: {} }, async (_args, extra) => {
      const token = extra._meta?.progressToken;
      if (token != null) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } });
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const cancelled = new Promise<void>((r) => extra.signal.addEventListener('abort', () => r(), { once: true }));
      const drop = dropCurrent;
      const call: SlowCall = { release, cancelled, drop: () => drop(extra.closeSSEStream) };
      const w = waiting.shift();
      if (w) w(call);
      else ready.push(call);
      await Promise.race([released, opts.ignoreCancel ? new Promise(() => {}) : cancelled]);
      return { content: [{ type: 'text' as const, text: 'done' }] };
    });
    return server;
  };
  const called = () => new Promise<SlowCall>((r) => {
    const c = ready.shift();
    if (c) r(c);
    else waiting.push(r);
  });

  let server: http.Server;
  let endpoint = '';
  const closers: Array<() => Promise<void>> = [];
  if (kind === 'streamable-http') {
    const sessions = new Map<string, StreamableHTTPServerTransport>();
    server = http.createServer(async (req, res) => {
      const sid = req.headers['mcp-session-id'] as string | undefined;
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      if ((body as { method?: string } | undefined)?.method === 'tools/call') {
        dropCurrent = (closeSse) => (opts.resumable && closeSse ? closeSse() : res.socket?.destroy());
      }
      let t = sid ? sessions.get(sid) : undefined;
      if (!t) {
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void sessions.set(id, transport),
          ...(opts.resumable ? { eventStore: new InMemoryEventStore(), retryInterval: 10 } : {}),
        });
        const mcp = make();
        closers.push(() => mcp.close());
        await mcp.connect(transport);
        t = transport;
        standalone.push(() => transport.closeStandaloneSSEStream());
      }
      await t.handleRequest(req, res, body);
    });
    const l = await listen(server);
    closers.push(l.close);
    endpoint = `http://127.0.0.1:${l.port}/mcp`;
  } else if (kind === 'sse') {
    const sessions = new Map<string, SSEServerTransport>();
    server = http.createServer(async (req, res) => {
      const u = new URL(req.url!, 'http://x');
      if (req.method === 'GET') {
        const transport = new SSEServerTransport('/message', res);
        sessions.set(transport.sessionId, transport);
        dropCurrent = () => res.socket?.destroy();
        const mcp = make();
        closers.push(() => mcp.close());
        await mcp.connect(transport);
        return;
      }
      const t = sessions.get(u.searchParams.get('sessionId') ?? '');
      if (!t) return void res.writeHead(404).end();
      await t.handlePostMessage(req, res, await readBody(req));
    });
    const l = await listen(server);
    closers.push(l.close);
    endpoint = `http://127.0.0.1:${l.port}/sse`;
  } else {
    server = http.createServer((_req, res) => res.writeHead(426).end());
    const wss = new WebSocketServer({ server, handleProtocols: (p) => (p.has('mcp') ? 'mcp' : false) });
    wss.on('connection', async (ws) => {
      dropCurrent = () => ws.terminate();
      const mcp = make();
      closers.push(() => mcp.close());
      await mcp.connect(new WsServerTransport(ws));
    });
    const l = await listen(server);
    closers.push(async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
    }, l.close);
    endpoint = `ws://127.0.0.1:${l.port}/`;
  }
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    endpoint,
    port,
    sessions: () => 0,
    called,
    closeStandaloneStream: () => standalone.at(-1)?.(),
    close: async () => {
      for (const c of closers) await c().catch(() => {});
    },
  };
}
