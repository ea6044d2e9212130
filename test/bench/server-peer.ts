import { echoServer as factory, startSseServer, startStreamableServer, startWsServer } from '../helpers/peers.js';

// The bench's MCP servers, in their own process: a real SDK server with one cheap tool, so the
// figures measure transport and proxy, not tool work.

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
