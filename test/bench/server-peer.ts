import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { startSseServer, startStreamableServer, startWsServer, type ServerFactory } from '../helpers/peers.js';

// The bench's MCP servers, in their own process: a real SDK server with one cheap tool, so the
// figures measure transport and proxy, not tool work.

const factory: ServerFactory = () => {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echo', inputSchema: { message: z.string() } }, async ({ message }) => ({
    content: [{ type: 'text' as const, text: message }],
  }));
  return { server };
};

const [http, sse, ws] = await Promise.all([
  startStreamableServer({ factory }),
  startSseServer({ factory }),
  startWsServer({ factory }),
]);
process.send!({ 'streamable-http': http.url, sse: sse.url, websocket: ws.url });
process.on('message', async () => {
  await Promise.all([http.close(), sse.close(), ws.close()]);
  process.exit(0);
});
