import http from 'node:http';
import httpProxy from 'http-proxy';
import type { AddressInfo } from 'node:net';
import { serveBenchChild } from './proxy-child.js';

// The baseline: http-proxy with a keep-alive agent and no capture at all, the way anyone would put
// a plain reverse proxy in front of an MCP server.

const target = process.argv[2];
const agent = new http.Agent({ keepAlive: true });
const proxy = httpProxy.createProxyServer({ target, agent, changeOrigin: true, ws: true });
proxy.on('error', (_e, _req, res) => {
  if (res && 'writeHead' in res && !res.headersSent) res.writeHead(502).end();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.on('upgrade', (req, socket, head) => proxy.ws(req, socket, head));
server.listen(0, '127.0.0.1', () => process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
serveBenchChild(async () => void server.close());
