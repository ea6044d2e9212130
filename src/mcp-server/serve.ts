import http from 'node:http';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { listen } from '../proxy/listen.js';
import { capturesServer, type StoreSource } from './server.js';

/** Serves the captures over stdio until the client closes stdin. */
export async function serveStdio(store: StoreSource, version: string): Promise<void> {
  const server = capturesServer(store, version);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => { transport.onclose = () => resolve(); });
  process.stdin.once('end', () => void server.close());
  await server.connect(transport);
  await closed;
}

export interface HttpCaptures {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the captures over Streamable HTTP at `/mcp` on 127.0.0.1, stateless: each request gets its own
 * server and transport (nothing per client to keep), all reading the one store. Only a Host naming this
 * address is answered, so a web page cannot read the captures through DNS rebinding.
 */
export async function serveHttp(store: StoreSource, version: string, port: number): Promise<HttpCaptures> {
  const host = '127.0.0.1';
  let bound = port;
  const httpServer = http.createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('mcptap mcp serves MCP at /mcp\n');
      return;
    }
    const server = capturesServer(store, version);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      enableDnsRebindingProtection: true,
      allowedHosts: [`${host}:${bound}`, `localhost:${bound}`],
    });
    res.on('close', () => { void transport.close(); void server.close(); });
    server.connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`mcptap mcp: ${err.message}\n`);
      });
  });
  bound = await listen(httpServer, port, host);
  return {
    url: `http://${host}:${bound}/mcp`,
    close: () => new Promise<void>((resolve) => {
      httpServer.closeAllConnections();
      httpServer.close(() => resolve());
    }),
  };
}
