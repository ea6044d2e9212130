import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { startJsonServer, type Peer } from './helpers/peers.js';

// A long-running proxy sees sessions come and go all day: what it remembers of them must not grow
// with the number it has ever seen.

let upstream: Peer;
let proxy: RunningProxy;

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

describe('many short sessions', () => {
  it('forgets 1,000 sessions that ended (DELETE), over many connections', async () => {
    let n = 0;
    upstream = await startJsonServer((m, res, req) => {
      if (req.method === 'DELETE') return void res.writeHead(200).end();
      const sid = m?.method === 'initialize' ? `churn-${n++}` : String(req.headers['mcp-session-id']);
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': sid });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'churn', version: '1' } } }));
    });
    proxy = await startProxy({ target: upstream.url, port: 0, db: null, onWarning: () => {} });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const request = (method: string, headers: Record<string, string>, body?: string) => new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(proxy.url + '/mcp', { method, agent, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      });
      req.on('error', reject);
      req.end(body);
    });
    // 1,000 keep the suite quick; the tracker forgets each one as it ends, so the count does not matter.
    const SESSIONS = 1_000;
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < SESSIONS) {
        const i = next++;
        const init = await request('POST', {}, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: `client-${i}`, version: '1' } } }));
        const sid = String(init.headers['mcp-session-id']);
        expect((await request('DELETE', { 'mcp-session-id': sid })).statusCode).toBe(200);
      }
    }));
    agent.destroy();
    await proxy.flush();
    expect(n).toBe(SESSIONS);
    expect(proxy.engine.tracker.sizes()).toEqual({ sessions: 0, mcpIds: 0, legacyIds: 0, clients: 0, connections: 0, pending: 0 });
  });
});
