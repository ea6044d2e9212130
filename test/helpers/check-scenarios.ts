import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectClient, echoServer, startGatewayLikeServer, startRawHttpServer, startStreamableServer } from './peers.js';

// Situations people meet, played by real peers (the MCP SDK's servers and clients) through the proxy.
// test/record-check-scenarios.ts records them into test/fixtures/check-scenarios/, and
// test/check-scenarios.test.ts holds what `mcptap check` must say about each.

/** What Claude Code 2.1.330 sends on every MCP request (see test/fixtures/claude-code-runs). */
export const CLAUDE_CODE_UA = 'claude-code/2.1.330 (sdk-cli)';

export interface Scenario {
  /** Starts the upstream; returns its URL (without the MCP path) and how to stop it. */
  upstream(): Promise<{ url: string; close(): Promise<void> }>;
  /** What the client does, against the proxy's URL. */
  drive(proxyUrl: string): Promise<void>;
}

/**
 * Claude Code's server/discover probe as it sends it (id, headers), on a connection of its own: it
 * probes on one connection and retries or falls back on another. Resolves with the status.
 */
export function discoverProbe(url: string): Promise<number> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 'server-discover-probe-1', method: 'server/discover', params: { _meta: { 'io.modelcontextprotocol/clientInfo': { name: 'claude-code', version: '2.1.330' } } } });
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent: false,
      headers: {
        accept: 'application/json, text/event-stream', 'accept-encoding': 'identity', 'content-type': 'application/json',
        'user-agent': CLAUDE_CODE_UA, 'mcp-method': 'server/discover', 'mcp-protocol-version': '2026-07-28',
      },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Claude Code added with --transport http: its probe, and the SDK client after it, with its User-Agent. */
async function claudeCodeHttp(url: string, work: (c: Awaited<ReturnType<typeof connectClient>>) => Promise<void> = async () => {}): Promise<void> {
  await discoverProbe(url);
  const c = await connectClient('streamable-http', url, { name: 'claude-code', headers: { 'user-agent': CLAUDE_CODE_UA } });
  await c.client.listTools();
  await work(c);
  await c.close();
}

export const SCENARIOS: Record<string, Scenario> = {
  // `claude mcp add --transport sse … /mcp/` at a stateful Streamable HTTP server: the SSE client's GET
  // is refused (400, no session), and Claude Code tries once more. Then the user fixes the transport and
  // runs again from the same address and User-Agent: its probe is refused (400, the server knows no
  // server/discover) and retried on a new connection, then initialize and a tool call.
  'sse-at-streamable': {
    upstream: () => startStreamableServer({ path: '/mcp/', factory: echoServer }),
    async drive(url) {
      for (let i = 0; i < 2; i++) {
        await connectClient('sse', url + '/mcp/', { name: 'claude-code', headers: { 'user-agent': CLAUDE_CODE_UA } }).then((c) => c.close(), () => undefined);
      }
      await discoverProbe(url + '/mcp/');
      await claudeCodeHttp(url + '/mcp/', async (c) => {
        await c.client.callTool({ name: 'echo', arguments: { message: 'after the fix' } });
      });
    },
  },
  // A gateway that refuses the key (LiteLLM's words for it) with 401.
  'refused-key': {
    upstream: () => startRawHttpServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="litellm"' });
      res.end(JSON.stringify({ error: { message: 'Authentication Error, Invalid proxy server token passed. Received API Key = sk-…0000', type: 'auth_error', code: '401' } }));
    }),
    async drive(url) {
      await connectClient('streamable-http', url + '/mcp', { headers: { authorization: 'Bearer sk-wrong-key-for-the-fixture-0000' } }).then((c) => c.close(), () => undefined);
    },
  },
  // The upstream is not running: the proxy answers 502 for it.
  unreachable: {
    async upstream() {
      const dead = http.createServer();
      await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
      const port = (dead.address() as AddressInfo).port;
      await new Promise((r) => dead.close(r));
      return { url: `http://127.0.0.1:${port}`, close: async () => {} };
    },
    async drive(url) {
      await connectClient('streamable-http', url + '/mcp').then((c) => c.close(), () => undefined);
    },
  },
  // A gateway that prefixes tool names (LiteLLM: db_main-echo): the prefixed name works, the bare one does not.
  'prefixing-gateway': {
    upstream: () => startGatewayLikeServer({ prefix: 'db_main-' }),
    drive: (url) => claudeCodeHttp(url + '/mcp', async (c) => {
      await c.client.callTool({ name: 'db_main-echo', arguments: { message: 'through the gateway' } });
      await c.client.callTool({ name: 'echo', arguments: { message: 'the name from before' } }).catch(() => undefined);
    }),
  },
  // The user presses Esc during a long tool call: the client cancels it, and the server rightly never answers.
  'cancelled-call': {
    upstream: () => startStreamableServer(),
    drive: (url) => claudeCodeHttp(url + '/mcp', async (c) => {
      const ac = new AbortController();
      const call = c.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } }, undefined, { signal: ac.signal });
      setTimeout(() => ac.abort('the user pressed Esc'), 50);
      await call.catch(() => undefined);
      await c.client.ping();
    }),
  },
};

/**
 * Plays a scenario through a fresh proxy into `db`, and returns its sessions in the order they started
 * (the tracker decides how many there are).
 */
export async function playScenario(name: string, db: string): Promise<string[]> {
  const { startProxy } = await import('../../src/proxy/server.js');
  const { CaptureStore } = await import('../../src/store/read.js');
  const s = SCENARIOS[name];
  const up = await s.upstream();
  try {
    const proxy = await startProxy({ target: up.url, port: 0, db, label: name, onWarning: () => {} });
    try {
      await s.drive(proxy.url);
      await proxy.flush();
    } finally {
      await proxy.close();
    }
  } finally {
    await up.close();
  }
  const store = CaptureStore.open(db, { readonly: true });
  try {
    return store.listSessions().filter((x) => x.label === name).sort((a, b) => a.startedAt - b.startedAt).map((x) => x.id);
  } finally {
    store.close();
  }
}
