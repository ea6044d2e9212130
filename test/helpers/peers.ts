import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, WebSocket as WsSocket } from 'ws';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
// server-everything ships its server factory inside dist; the package has no exports map.
import { createServer as createEverything } from '@modelcontextprotocol/server-everything/dist/server/index.js';

// Real MCP peers for integration tests: the SDK's own transports on node:http servers bound to
// 127.0.0.1:0, with server-everything (or a small purpose-built server) behind them.

export type TransportKind = 'streamable-http' | 'sse' | 'websocket';

export interface ServerFactoryResult {
  server: McpServer;
  cleanup?: (sessionId?: string) => void;
}
export type ServerFactory = () => ServerFactoryResult;

export interface Peer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** What a client connects to: …/mcp, …/sse or ws://…/ */
  endpoint: string;
  port: number;
  /** Live server-side sessions. */
  sessions(): number;
  close(): Promise<void>;
}

/** One cheap `echo` tool: for load, where the figures should measure transport and proxy, not tool work. */
export const echoServer: ServerFactory = () => {
  const server = new McpServer({ name: 'echo', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echo', inputSchema: { message: z.string() } }, async ({ message }) => ({
    content: [{ type: 'text' as const, text: message }],
  }));
  return { server };
};

export const everything: ServerFactory = () => {
  const { server, cleanup } = createEverything() as { server: McpServer; cleanup: (id?: string) => void };
  return { server, cleanup };
};

export async function listen(server: http.Server): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text ? JSON.parse(text) : undefined);
      } catch {
        resolve(text);
      }
    });
  });
}

/** Stateful Streamable HTTP, one transport (and one server) per MCP session, as server-everything runs it. */
/** `jsonResponse`: answers each POST with one application/json body (the SDK's `enableJsonResponse`), not an event stream. */
export function streamableHandler(factory: ServerFactory = everything, path = '/mcp', jsonResponse = false) {
  const transports = new Map<string, { transport: StreamableHTTPServerTransport; done: () => Promise<void>; streamOpened: () => void }>();
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (new URL(req.url!, 'http://x').pathname !== path) return void res.writeHead(404).end();
    const sid = req.headers['mcp-session-id'] as string | undefined;
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    if (sid) {
      const t = transports.get(sid);
      if (!t) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
      }
      if (req.method === 'GET') {
        // The stream is the session's once its head is out (the SDK registers it as it writes it).
        const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => http.ServerResponse;
        res.writeHead = ((...a: unknown[]) => {
          const r = writeHead(...a);
          if (res.statusCode === 200) setImmediate(t.streamOpened);
          return r;
        }) as typeof res.writeHead;
      }
      return void t.transport.handleRequest(req, res, body);
    }
    if (req.method !== 'POST') {
      res.writeHead(400, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: No valid session ID provided' }, id: null }));
    }
    const { server: mcp, cleanup } = factory();
    // What the server sends on its own (server-everything's roots/list 350 ms after `initialized`, its
    // tools/list_changed) goes on the standalone GET stream, and the SDK drops it while there is none. On
    // a loaded machine the client's GET comes later than 350 ms, and a test waiting for the roots hung:
    // these are held until the stream opens, as a server with an event store would keep them.
    let streamOpen = false;
    const held: Array<() => void> = [];
    const streamOpened = () => {
      streamOpen = true;
      for (const send of held.splice(0)) send();
    };
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: jsonResponse,
      onsessioninitialized: (id) => {
        transports.set(id, {
          transport,
          streamOpened,
          done: async () => {
            transports.delete(id);
            cleanup?.(id);
            await mcp.close();
          },
        });
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id && transports.has(id)) void transports.get(id)!.done();
    };
    await mcp.connect(transport);
    const send = transport.send.bind(transport);
    transport.send = async (message, options) => {
      if (streamOpen || !('method' in message) || options?.relatedRequestId != null) return send(message, options);
      held.push(() => void send(message, options).catch(() => {}));
    };
    await transport.handleRequest(req, res, body);
  };
  return {
    handle,
    sessions: () => transports.size,
    closeAll: () => Promise.all([...transports.values()].map((t) => t.done())),
  };
}

export async function startStreamableServer(opts: { factory?: ServerFactory; path?: string; jsonResponse?: boolean } = {}): Promise<Peer> {
  const path = opts.path ?? '/mcp';
  const h = streamableHandler(opts.factory, path, opts.jsonResponse);
  const l = await listen(http.createServer(h.handle));
  const url = `http://127.0.0.1:${l.port}`;
  return {
    url,
    endpoint: url + path,
    port: l.port,
    sessions: h.sessions,
    close: async () => {
      await h.closeAll();
      await l.close();
    },
  };
}

/**
 * Stateless Streamable HTTP (no Mcp-Session-Id; a new server and transport per request), as FastMCP's
 * stateless_http and many gateways run. `declineGet`: the standalone GET stream is refused with 405, as the
 * spec allows.
 */
export async function startStatelessServer(opts: { factory?: ServerFactory; declineGet?: boolean } = {}): Promise<Peer> {
  const factory = opts.factory ?? echoServer;
  const l = await listen(http.createServer(async (req, res) => {
    if (new URL(req.url!, 'http://x').pathname !== '/mcp') return void res.writeHead(404).end();
    if (opts.declineGet && req.method === 'GET') return void res.writeHead(405, { allow: 'POST' }).end();
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    const { server: mcp } = factory();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void transport.close().then(() => mcp.close()));
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  }));
  const url = `http://127.0.0.1:${l.port}`;
  return { url, endpoint: url + '/mcp', port: l.port, sessions: () => 0, close: l.close };
}

/** The 2024-11-05 transport: GET /sse and POST /message?sessionId=… */
/**
 * `pings`: the stream also carries sse-starlette's keep-alives (as the Python SDK's servers send them):
 * a comment line, and a named "ping" event with a timestamp, which clients skip.
 */
export async function startSseServer(opts: { factory?: ServerFactory; absoluteEndpoint?: boolean; pings?: boolean } = {}): Promise<Peer> {
  const factory = opts.factory ?? everything;
  const transports = new Map<string, { transport: SSEServerTransport; done: () => Promise<void> }>();
  let origin = '';
  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (req.method === 'GET' && u.pathname === '/sse') {
      // The SDK always announces a relative endpoint; an absolute one is what some other servers send.
      const target = opts.absoluteEndpoint ? withAbsoluteEndpoint(res, origin) : res;
      const transport = new SSEServerTransport('/message', target);
      const { server: mcp, cleanup } = factory();
      const done = async () => {
        if (!transports.delete(transport.sessionId)) return;
        cleanup?.(transport.sessionId);
        await mcp.close();
      };
      transports.set(transport.sessionId, { transport, done });
      res.on('close', () => void done());
      await mcp.connect(transport);
      if (opts.pings) res.write(`: ping - ${new Date().toISOString()}\n\nevent: ping\ndata: ${new Date().toISOString()}\n\n`);
      return;
    }
    if (req.method === 'POST' && u.pathname === '/message') {
      const t = transports.get(u.searchParams.get('sessionId') ?? '');
      if (!t) return void res.writeHead(404).end('Session not found');
      return void t.transport.handlePostMessage(req, res, await readBody(req));
    }
    res.writeHead(404).end();
  });
  const l = await listen(server);
  origin = `http://127.0.0.1:${l.port}`;
  return {
    url: origin,
    endpoint: origin + '/sse',
    port: l.port,
    sessions: () => transports.size,
    close: async () => {
      await Promise.all([...transports.values()].map((t) => t.done()));
      await l.close();
    },
  };
}

/** Makes the SDK's relative `endpoint` event absolute, the way other servers send it. */
function withAbsoluteEndpoint(res: http.ServerResponse, origin: string): http.ServerResponse {
  const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
  (res as unknown as { write: typeof write }).write = (chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('event: endpoint\ndata: /')) {
      chunk = chunk.replace('data: /', `data: ${origin}/`);
    }
    return write(chunk, ...rest);
  };
  return res;
}

/** The SDK's server half over a `ws` socket: one JSON-RPC message per text frame. */
export class WsServerTransport implements Transport {
  onclose?: () => void;
  onerror?: (e: Error) => void;
  onmessage?: (m: JSONRPCMessage) => void;
  constructor(private readonly ws: WsSocket) {}
  async start(): Promise<void> {
    this.ws.on('message', (data) => {
      try {
        this.onmessage?.(JSON.parse(data.toString()) as JSONRPCMessage);
      } catch (e) {
        this.onerror?.(e as Error);
      }
    });
    this.ws.on('close', () => this.onclose?.());
  }
  async send(m: JSONRPCMessage): Promise<void> {
    this.ws.send(JSON.stringify(m));
  }
  async close(): Promise<void> {
    this.ws.close();
  }
}

/** `deflate`: the server agrees to permessage-deflate (context takeover) and compresses every message. */
export async function startWsServer(opts: { factory?: ServerFactory; deflate?: boolean } = {}): Promise<Peer> {
  const factory = opts.factory ?? everything;
  const server = http.createServer((_req, res) => res.writeHead(426).end('WebSocket only'));
  const wss = new WebSocketServer({ server, handleProtocols: (p) => (p.has('mcp') ? 'mcp' : false), perMessageDeflate: opts.deflate ? { threshold: 0 } : false });
  let live = 0;
  wss.on('connection', async (ws) => {
    live++;
    const { server: mcp, cleanup } = factory();
    ws.on('close', () => {
      live--;
      cleanup?.();
      void mcp.close();
    });
    await mcp.connect(new WsServerTransport(ws));
  });
  const l = await listen(server);
  const url = `http://127.0.0.1:${l.port}`;
  return {
    url,
    endpoint: `ws://127.0.0.1:${l.port}/`,
    port: l.port,
    sessions: () => live,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await l.close();
    },
  };
}

export interface ClientOptions {
  name?: string;
  headers?: Record<string, string>;
  onSample?: (params: unknown) => unknown;
  onElicit?: (params: unknown) => unknown;
  /** Answers roots/list (a canned root when absent); may return a promise that never settles. */
  onRoots?: () => unknown;
  /** Streamable HTTP: the fetch the transport uses (connections of its own). */
  fetch?: (url: string | URL, init?: RequestInit) => Promise<Response>;
}

export const SAMPLED = { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'sampled' } } as const;

/** An SDK client that declares sampling, elicitation and roots, with canned answers. */
export async function connectClient(kind: TransportKind, url: string, opts: ClientOptions = {}): Promise<{ client: Client; close(): Promise<void> }> {
  const client = new Client({ name: opts.name ?? 'mcptap-test', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => (opts.onSample?.(req.params) ?? SAMPLED) as never);
  client.setRequestHandler(ElicitRequestSchema, async (req) =>
    (opts.onElicit?.(req.params) ?? { action: 'accept', content: { name: 'Ada Lovelace', check: true, email: 'ada@example.com' } }) as never);
  client.setRequestHandler(ListRootsRequestSchema, async () => (await (opts.onRoots?.() ?? { roots: [{ uri: 'file:///tmp/project', name: 'project' }] })) as never);
  let transport: Transport;
  const init = opts.headers ? { headers: opts.headers } : undefined;
  if (kind === 'streamable-http') transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: init, fetch: opts.fetch });
  else if (kind === 'sse') {
    // The stream's own headers (Accept: text/event-stream) come as a Headers object: added to, not spread.
    const streamFetch = (u: string | URL, i?: RequestInit) => {
      const h = new Headers(i?.headers);
      for (const [k, v] of Object.entries(opts.headers ?? {})) h.set(k, v);
      return fetch(u, { ...i, headers: h });
    };
    transport = new SSEClientTransport(new URL(url), { requestInit: init, eventSourceInit: opts.headers ? { fetch: streamFetch } : undefined });
  }
  else {
    // Node 20 has no global WebSocket; the SDK's client transport expects one.
    const g = globalThis as { WebSocket?: unknown };
    g.WebSocket ??= WsSocket;
    transport = new WebSocketClientTransport(new URL(url));
  }
  await client.connect(transport);
  return { client, close: () => client.close() };
}

/** Tools a database MCP server might have; the gateway variant prefixes them as LiteLLM does. */
function toolsServer(prefix: string, failingTool?: string): ServerFactory {
  return () => {
    const server = new McpServer({ name: prefix ? 'gateway' : 'postgres-mcp', version: '1.0.0' });
    const reply = (tool: string, text: string) =>
      async () => (tool === failingTool
        ? { isError: true, content: [{ type: 'text' as const, text: 'relation "x" does not exist' }] }
        : { content: [{ type: 'text' as const, text }] });
    server.registerTool(prefix + 'list_schemas', { description: 'List schemas' }, reply('list_schemas', 'public, audit'));
    server.registerTool(prefix + 'query', { description: 'Run SQL', inputSchema: { sql: z.string() } }, async ({ sql }) =>
      'query' === failingTool
        ? { isError: true, content: [{ type: 'text' as const, text: 'relation "x" does not exist' }] }
        : { content: [{ type: 'text' as const, text: `1 row for: ${sql}` }] });
    server.registerTool(prefix + 'echo', { description: 'Echo', inputSchema: { message: z.string() } }, async ({ message }) =>
      ({ content: [{ type: 'text' as const, text: `Echo: ${message}` }] }));
    return { server };
  };
}

export function startGatewayLikeServer(opts: { prefix: string; failingTool?: string }): Promise<Peer> {
  return startStreamableServer({ factory: toolsServer(opts.prefix, opts.failingTool) });
}

export function startPlainToolsServer(opts: { failingTool?: string; jsonResponse?: boolean } = {}): Promise<Peer> {
  return startStreamableServer({ factory: toolsServer('', opts.failingTool), jsonResponse: opts.jsonResponse });
}

/**
 * A purpose-built peer that answers JSON bodies: `handler` gets the parsed body (undefined when empty;
 * the text when it is not JSON) once the request has arrived.
 */
export function startJsonServer(handler: (body: any, res: http.ServerResponse, req: http.IncomingMessage) => void): Promise<Peer> {
  return startRawHttpServer((req, res) => void readBody(req).then((body) => handler(body, res, req)));
}

/** A plain node:http server for purpose-built misbehaving peers. */
export async function startRawHttpServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Peer> {
  const server = http.createServer(handler);
  const l = await listen(server);
  const url = `http://127.0.0.1:${l.port}`;
  return { url, endpoint: url, port: l.port, sessions: () => 0, close: l.close };
}
