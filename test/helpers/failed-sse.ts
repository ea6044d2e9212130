import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { startProxy } from '../../src/proxy/server.js';
import { CLAUDE_CODE_UA, discoverProbe } from './check-scenarios.js';
import { connectClient, echoServer, startStatelessServer, startStreamableServer, type Peer } from './peers.js';

/**
 * The seed's mistake, `claude mcp add --transport sse` at a Streamable HTTP endpoint, through a proxy writing
 * to `db`: a legacy SSE client opens its GET stream and waits for an `endpoint` event. A server that declines the
 * GET (405) fails it at once; one that keeps a standalone stream open (a stateless SDK server) leaves it hanging,
 * and the client gives up once the stream's head arrived. No JSON-RPC message is ever sent.
 */
export async function legacySseAttempt(db: string, endpoint: string, label: string): Promise<void> {
  const target = new URL(endpoint);
  const proxy = await startProxy({ target: target.origin, port: 0, db, label, onWarning: () => {} });
  let headArrived!: () => void;
  const head = new Promise<void>((r) => (headArrived = r));
  const streamFetch = async (u: string | URL, init?: RequestInit) => {
    const h = new Headers(init?.headers);
    h.set('user-agent', CLAUDE_CODE_UA);
    const r = await fetch(u, { ...init, headers: h });
    headArrived();
    return r;
  };
  const transport = new SSEClientTransport(new URL(proxy.url + target.pathname), { requestInit: { headers: { 'user-agent': CLAUDE_CODE_UA } }, eventSourceInit: { fetch: streamFetch } });
  const client = new Client({ name: 'claude-code', version: '2.1.330' });
  // A refused GET fails connect; a hanging one never settles it (closing the transport does not): not awaited.
  const failed = client.connect(transport).then(() => undefined, () => undefined);
  await Promise.race([head, failed]);
  await transport.close();
  await proxy.close();
}

/**
 * A healthy Claude Code session at a 2025 Streamable HTTP server: its `server/discover` probe refused (HTTP 400
 * and a JSON-RPC error), the client falls back to initialize and calls a tool. Neither check nor ERR has an error.
 */
export async function probedSession(db: string, endpoint: string, label: string): Promise<void> {
  const target = new URL(endpoint);
  const proxy = await startProxy({ target: target.origin, port: 0, db, label, onWarning: () => {} });
  try {
    if (await discoverProbe(proxy.url + target.pathname) !== 400) throw new Error('the server did not refuse server/discover');
    const c = await connectClient('streamable-http', proxy.url + target.pathname, { name: 'claude-code', headers: { 'user-agent': CLAUDE_CODE_UA } });
    await c.client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    await c.close();
  } finally {
    await proxy.close();
  }
}

/**
 * Three sessions in `db`, labelled by what happened: `healthy` (a Claude Code-like client refused on its probe,
 * then working), `refused` (a legacy SSE client whose GET a stateless server declines: no message at all) and
 * `hanging` (its GET kept open without an endpoint event). The servers are returned for the caller to close.
 */
export async function threeSessions(db: string): Promise<Peer[]> {
  const streamable = await startStreamableServer({ factory: echoServer });
  const declining = await startStatelessServer({ declineGet: true });
  const stateless = await startStatelessServer();
  await probedSession(db, streamable.endpoint, 'healthy');
  await legacySseAttempt(db, declining.endpoint, 'refused');
  await legacySseAttempt(db, stateless.endpoint, 'hanging');
  return [streamable, declining, stateless];
}
