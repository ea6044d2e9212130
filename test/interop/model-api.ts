import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// A local stand-in for the Anthropic Messages API, the api_base of LiteLLM's model entry: LiteLLM needs
// no real model to route /v1/messages. It answers like Anthropic does (JSON, or an SSE stream with a
// tool_use block when tools are offered) and keeps what LiteLLM sent it.

export interface ModelRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface ModelApi {
  url: string;
  requests: ModelRequest[];
  close(): Promise<void>;
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

function answer(body: any): { json: unknown; events: string } {
  const tool = Array.isArray(body?.tools) && body.tools.length ? body.tools[0] : null;
  const model = body?.model ?? 'claude-sonnet-4-5';
  const content = tool
    ? [{ type: 'tool_use', id: 'toolu_01INTEROP', name: tool.name, input: { message: 'hi' } }]
    : [{ type: 'text', text: 'Hello from the stand-in.' }];
  const stop = tool ? 'tool_use' : 'end_turn';
  const usage = { input_tokens: 12, output_tokens: 5 };
  const json = { id: 'msg_01INTEROP', type: 'message', role: 'assistant', model, content, stop_reason: stop, stop_sequence: null, usage };
  const events = [
    sse('message_start', { type: 'message_start', message: { ...json, content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1 } } }),
    tool
      ? sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_01INTEROP', name: tool.name, input: {} } }) +
        sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"message": "hi"}' } })
      : sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) +
        sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello from the stand-in.' } }),
    sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
    sse('message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 5 } }),
    sse('message_stop', { type: 'message_stop' }),
  ].join('');
  return { json, events };
}

export async function startModelApi(): Promise<ModelApi> {
  const requests: ModelRequest[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = null;
      }
      requests.push({ path: req.url ?? '/', headers: req.headers, body });
      if (req.method !== 'POST' || !(req.url ?? '').startsWith('/v1/messages')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'Not found' } }));
        return;
      }
      const a = answer(body);
      if (body?.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_interop' });
        res.end(a.events);
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_interop' });
        res.end(JSON.stringify(a.json));
      }
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
