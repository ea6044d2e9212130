import http from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { listen } from '../proxy/listen.js';
import { PortGate } from '../proxy/host-guard.js';
import { UsageError } from '../errors.js';
import { MockSession, mockScript, type JsonObject, type Plan } from './mock-session.js';
import type { Recording } from './recording.js';
import { legacyEndpointOf, type LegacyEndpoint } from '../wire/legacy-endpoint.js';

export interface MockOptions {
  recording: Recording;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Recorded spacing of interim messages is divided by this (2 = twice as fast). */
  speed?: number;
  /** Host names and browser origins the port also serves (src/proxy/host-guard.ts). */
  allowHosts?: string[];
  allowOrigins?: string[];
  onWarning?: (message: string) => void;
}

export interface RunningMock {
  /** http://HOST:PORT */
  url: string;
  port: number;
  host: string;
  /** The Streamable HTTP path (the recorded one, else /mcp). */
  path: string;
  /** How many recorded client requests it can answer. */
  calls: number;
  close(): Promise<void>;
}

interface HttpSession {
  mcp: MockSession;
  /** The standalone GET stream (Streamable HTTP) or the legacy stream (HTTP+SSE). */
  stream: http.ServerResponse | null;
}

const SSE_HEAD = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' };

/**
 * Serves a recorded session as an MCP server with no upstream, on one port: Streamable HTTP on the
 * recorded path (and /mcp), legacy HTTP+SSE on /sse and the recorded endpoint (/message by default), and WebSocket on any path.
 */
export async function startMock(opts: MockOptions): Promise<RunningMock> {
  const speed = opts.speed ?? 1;
  if (!(speed > 0) || !Number.isFinite(speed)) throw new UsageError(`--speed must be a positive number (got ${opts.speed})`);
  const script = mockScript(opts.recording);
  const host = opts.host ?? '127.0.0.1';
  const path = streamablePath(opts.recording);
  const legacy = legacyForm(opts.recording);
  const sessions = new Map<string, HttpSession>();
  const sockets = new Set<Socket>();
  const live = new Set<MockSession>();
  const newSession = (): MockSession => {
    const s = new MockSession(script, speed);
    live.add(s);
    return s;
  };
  // A recording of revision 2026-07-28 (no initialize): every request stands alone, with no session id. One
  // mock session plays them all, as the recorded server answered each.
  const stateless = !script.calls.some((c) => c.method === 'initialize');
  let statelessSession: HttpSession | null = null;
  const endSession = (id: string) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    s.mcp.close();
    live.delete(s.mcp);
    s.stream?.end();
  };

  const gate = new PortGate({ host, allowHosts: opts.allowHosts, allowOrigins: opts.allowOrigins }, opts.onWarning ?? ((m) => process.stderr.write(`mcptap mock: ${m}\n`)));
  const server = http.createServer((req, res) => {
    if (gate.request(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://mock.invalid');
    void (async () => {
      if (url.pathname === '/sse' && req.method === 'GET') return legacyStream(res);
      if (url.pathname === legacy.path && req.method === 'POST') return legacyPost(req, res, url.searchParams.get(legacy.param));
      if (url.pathname === path || url.pathname === '/mcp') return streamable(req, res);
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`mcptap mock serves ${path}, /sse and WebSocket\n`);
    })().catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`mcptap mock: ${err.message}\n`);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function streamable(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const sid = req.headers['mcp-session-id'] as string | undefined;
    if (req.method === 'POST') {
      const body = await readJson(req);
      if (body === undefined) return rpcHttpError(res, 400, -32700, 'Parse error: the body is not JSON');
      const list = Array.isArray(body) ? body : [body];
      let s = sid ? sessions.get(sid) : undefined;
      const opens = list.some((m) => (m as JsonObject)?.method === 'initialize');
      if (opens) {
        s = { mcp: newSession(), stream: null };
        sessions.set(s.mcp.id, s);
      } else if (!sid && stateless) s = statelessSession ??= { mcp: newSession(), stream: null };
      else if (!sid) return rpcHttpError(res, 400, -32000, 'Bad Request: No valid session ID provided');
      else if (!s) return rpcHttpError(res, 404, -32001, 'Session not found');
      const session = s;
      const plans = list.map((m) => session.mcp.receive(m)).filter((p): p is Plan => p != null);
      const head: Record<string, string> = session === statelessSession ? {} : { 'mcp-session-id': session.mcp.id };
      // A subscription's stream stays open until its client closes it.
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      if (!plans.length) return void res.writeHead(202, head).end();
      const accept = String(req.headers.accept ?? '');
      const sse = accept.includes('text/event-stream') && (!accept.includes('application/json') || plans.some((p) => p.channel !== 'response-body'));
      if (sse) {
        res.writeHead(200, { ...SSE_HEAD, ...head });
        res.flushHeaders();
        await Promise.all(plans.map((p) => session.mcp.play(p, (m) => writeEvent(res, m), gone.signal)));
        return void res.end();
      }
      const replies: JsonObject[] = [];
      // A JSON body can carry only responses; anything sent on the way goes to the GET stream.
      await Promise.all(plans.map((p) => session.mcp.play(p, (m) => ('method' in m ? session.mcp.push(m) : replies.push(m)))));
      // A request the recorded server refused at the HTTP level (a probe answered 400) is refused the same way.
      const refused = plans.length === 1 && (plans[0].status ?? 0) >= 400 ? plans[0].status! : 200;
      res.writeHead(refused, { 'content-type': 'application/json', ...head });
      return void res.end(JSON.stringify(Array.isArray(body) ? replies : replies[0]));
    }
    if (!sid) return rpcHttpError(res, 400, -32000, 'Bad Request: No valid session ID provided');
    const s = sessions.get(sid);
    if (!s) return rpcHttpError(res, 404, -32001, 'Session not found');
    if (req.method === 'GET') {
      if (!String(req.headers.accept ?? '').includes('text/event-stream')) return rpcHttpError(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream');
      if (s.stream) return rpcHttpError(res, 409, -32000, 'Conflict: Only one SSE stream is allowed per session');
      res.writeHead(200, { ...SSE_HEAD, 'mcp-session-id': sid });
      res.flushHeaders();
      s.stream = res;
      s.mcp.attach((m) => writeEvent(res, m));
      res.on('close', () => {
        if (s.stream !== res) return;
        s.stream = null;
        s.mcp.attach(null);
      });
      return;
    }
    if (req.method === 'DELETE') {
      endSession(sid);
      return void res.writeHead(200, { 'mcp-session-id': sid }).end();
    }
    res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
  }

  function legacyStream(res: http.ServerResponse): void {
    const s: HttpSession = { mcp: newSession(), stream: res };
    sessions.set(s.mcp.id, s);
    res.writeHead(200, SSE_HEAD);
    res.write(`event: endpoint\ndata: ${legacy.path}?${legacy.param}=${s.mcp.id}\n\n`);
    s.mcp.attach((m) => writeEvent(res, m));
    res.on('close', () => endSession(s.mcp.id));
  }

  async function legacyPost(req: http.IncomingMessage, res: http.ServerResponse, sid: string | null): Promise<void> {
    const s = sid ? sessions.get(sid) : undefined;
    if (!s || !s.stream) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('Session not found');
    const body = await readJson(req);
    if (body === undefined) return void res.writeHead(400, { 'content-type': 'text/plain' }).end('Invalid message: the body is not JSON');
    // As the SDK's SSE server answers: a bare 202 with the word, no content type.
    res.writeHead(202).end('Accepted');
    const plans = (Array.isArray(body) ? body : [body]).map((m) => s.mcp.receive(m)).filter((p): p is Plan => p != null);
    await Promise.all(plans.map((p) => s.mcp.play(p, (m) => s.mcp.push(m))));
  }

  const wss = new WebSocketServer({
    server, perMessageDeflate: false,
    verifyClient: ({ req }, done) => {
      const reason = gate.refuse(req);
      if (reason === null) done(true);
      else done(false, 403, `mcptap: forbidden: ${reason}`);
    },
    handleProtocols: (p) => (p.has('mcp') ? 'mcp' : [...p][0] ?? false),
  });
  wss.on('connection', (ws: WebSocket) => {
    const mcp = newSession();
    const send = (m: JsonObject) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(m));
    mcp.attach(send);
    ws.on('close', () => {
      mcp.close();
      live.delete(mcp);
    });
    ws.on('error', () => {});
    ws.on('message', (data) => {
      let body: unknown;
      try {
        body = JSON.parse(data.toString());
      } catch {
        return ws.send(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: the frame is not JSON' } }));
      }
      const plans = (Array.isArray(body) ? body : [body]).map((m) => mcp.receive(m)).filter((p): p is Plan => p != null);
      for (const p of plans) void mcp.play(p, send);
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());

  // The server's own errors (a port in use) are listen()'s to report; ws re-emits them on the wss.
  wss.on('error', () => undefined);
  const port = await listen(server, opts.port ?? 0, host);
  let closed: Promise<void> | null = null;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    host,
    path,
    calls: script.calls.length,
    close: () => {
      closed ??= (async () => {
        for (const s of live) s.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        const done = new Promise<void>((r) => server.close(() => r()));
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
        await done;
      })();
      return closed;
    },
  };
}

/** The path the recorded client used for Streamable HTTP, so the same client URL works; else /mcp. */
function streamablePath(rec: Recording): string {
  if (rec.session.transport !== 'streamable-http') return '/mcp';
  const post = rec.exchanges.find((e) => e.kind === 'http' && e.method === 'POST');
  if (!post) return '/mcp';
  const p = new URL(post.url, 'http://mock.invalid').pathname;
  return p === '/sse' || p === '/message' ? '/mcp' : p;
}

/**
 * Where the mock's legacy endpoint is: as the recorded server announced it (the Python SDK's
 * `/messages/?session_id=…`), else the TypeScript SDK's `/message?sessionId=…`.
 */
function legacyForm(rec: Recording): { path: string; param: LegacyEndpoint['param'] } {
  for (const e of rec.exchanges) {
    const form = e.kind === 'http' && e.method === 'POST' ? legacyEndpointOf(e.url) : null;
    if (form) return { path: form.path, param: form.param };
  }
  return { path: '/message', param: 'sessionId' };
}

function writeEvent(res: http.ServerResponse, m: JsonObject): void {
  if (!res.writableEnded && !res.destroyed) res.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
}

function rpcHttpError(res: http.ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        resolve(undefined);
      }
    });
  });
}
