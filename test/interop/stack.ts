import http from 'node:http';
import { Readable } from 'node:stream';
import { startProxy, type RunningProxy } from '../../src/proxy/server.js';
import { CaptureStore } from '../../src/store/read.js';
import { MASTER_KEY, startLiteLLM, type LiteLLM } from './litellm.js';
import { startModelApi, type ModelApi } from './model-api.js';
import { freePort, startFastMcp, tempDir, type Child } from './peers.js';

// The whole interop stack for one LiteLLM pin: two FastMCP servers (legacy SSE and Streamable HTTP), the
// model-API stand-in, LiteLLM in front of them with two deliberately broken entries, and mcptap's proxy in
// front of LiteLLM recording into a temp database.

export interface Stack {
  version: string;
  litellm: LiteLLM;
  proxy: RunningProxy;
  db: string;
  modelApi: ModelApi;
  /** The FastMCP servers, by the name LiteLLM knows them under. */
  upstream: { db_main: Child & { endpoint: string }; files: Child & { endpoint: string } };
  /** A fresh mcptap proxy in front of `target` (closed with the stack). */
  extraProxy(target: string, opts?: { gatewayDebug?: boolean }): Promise<RunningProxy>;
  store(): CaptureStore;
  close(): Promise<void>;
}

/**
 * LiteLLM's MCP servers: `db_main` (SSE) and `files` (Streamable HTTP) work. With `broken`, two more:
 * `down_srv` points at a closed port; `wrong_tr` is declared Streamable HTTP but is the SSE server's /sse URL.
 */
export async function startStack(version: string, opts: { broken?: boolean } = {}): Promise<Stack> {
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const tmp = tempDir('mcptap-interop-');
    closers.push(async () => tmp.cleanup());
    const [dbMain, files, modelApi] = await Promise.all([startFastMcp('sse', 'db_main'), startFastMcp('streamable-http', 'files'), startModelApi()]);
    // Read when closing: a test that restarts a server puts the new one's stop in its place.
    closers.push(() => dbMain.stop(), () => files.stop(), modelApi.close);
    const closedPort = await freePort();
    const litellm = await startLiteLLM(version, {
      modelApiBase: modelApi.url,
      mcpServers: {
        db_main: { url: dbMain.endpoint, transport: 'sse' },
        files: { url: files.endpoint, transport: 'http' },
        ...(opts.broken ? {
          down_srv: { url: `http://127.0.0.1:${closedPort}/mcp`, transport: 'http' as const },
          wrong_tr: { url: dbMain.endpoint, transport: 'http' as const },
        } : {}),
      },
    });
    closers.push(litellm.stop);
    const db = `${tmp.dir}/captures.db`;
    const proxy = await startProxy({ target: litellm.url, port: 0, db, label: `litellm-${version}`, onWarning: () => {} });
    closers.push(proxy.close);
    return {
      version, litellm, proxy, db, modelApi,
      upstream: { db_main: dbMain, files },
      extraProxy: async (target, opts) => {
        const p = await startProxy({ target, port: 0, db, onWarning: () => {}, ...opts });
        closers.push(p.close);
        return p;
      },
      store: () => CaptureStore.open(db, { readonly: true }),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

export interface WireAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body as JSON, or undefined. */
  json: any;
}

/**
 * One HTTP request as a client would send it (no redirect following), with LiteLLM's master key unless `auth`
 * says otherwise; `headOnly` reads only the head (for a GET that opens an event stream).
 */
export async function send(url: string, opts: { method?: string; body?: unknown; headers?: Record<string, string>; auth?: Record<string, string> | null; headOnly?: boolean } = {}): Promise<WireAnswer> {
  const headers: Record<string, string> = {
    ...(opts.body !== undefined ? { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } : {}),
    ...(opts.auth === undefined ? { authorization: `Bearer ${MASTER_KEY}` } : opts.auth ?? {}),
    ...opts.headers,
  };
  const res = await fetch(url, {
    method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'),
    headers,
    body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
    redirect: 'manual',
    signal: AbortSignal.timeout(60_000),
  });
  if (opts.headOnly) {
    // A stream that stays open: the status and headers are the answer.
    await res.body?.cancel();
    return { status: res.status, headers: res.headers, text: '', json: undefined };
  }
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    // An event stream answer: its first data line.
    const data = /^data: (.*)$/m.exec(text)?.[1];
    try {
      json = data ? JSON.parse(data) : undefined;
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, json };
}

let nextId = 1;
/** A JSON-RPC request body. */
export const rpc = (method: string, params?: unknown) => ({ jsonrpc: '2.0', id: nextId++, method, ...(params === undefined ? {} : { params }) });

export const INIT = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'interop', version: '1.0.0' } };

/**
 * A fetch with connections of its own, for an SDK client. LiteLLM 1.77 is stateless (no Mcp-Session-Id), so
 * mcptap tells its clients apart by their connections; clients in one test process would otherwise share
 * fetch's global pool, which a single real client does not.
 */
export function ownConnections(): { fetch: (url: string | URL, init?: RequestInit) => Promise<Response>; close(): void } {
  const agent = new http.Agent({ keepAlive: true });
  const fetchVia = (url: string | URL, init: RequestInit = {}) => new Promise<Response>((resolve, reject) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const req = http.request(String(url), { method: init.method ?? 'GET', headers, agent }, (res) => {
      const out = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v != null) out.set(k, Array.isArray(v) ? v.join(', ') : v);
      const body = res.statusCode === 204 || res.statusCode === 304 ? null : (Readable.toWeb(res) as ReadableStream);
      resolve(new Response(body, { status: res.statusCode, headers: out }));
    });
    req.on('error', reject);
    init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
    if (init.body != null) req.end(typeof init.body === 'string' ? init.body : Buffer.from(init.body as ArrayBuffer));
    else req.end();
  });
  return { fetch: fetchVia, close: () => agent.destroy() };
}
