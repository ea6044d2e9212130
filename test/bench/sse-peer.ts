import http from 'node:http';
import type { AddressInfo } from 'node:net';

// The far ends of the SSE bench, in their own process so that the bench process's memory is the
// proxy's alone. Parent → child: { run: proxyUrl, mb }. Child → parent: { port }, then the results.

const event = (i: number) =>
  `event: message\nid: ${i}\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x'.repeat(16_000) + i } })}\n\n`;

let count = 0;
let firstSentAt = 0;
let startPump: (() => void) | null = null;

const upstream = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'bench-stream' });
  firstSentAt = performance.now();
  res.write(event(0));
  // The rest waits until the client has the first event: that measures latency, not queueing.
  startPump = () => {
    let i = 1;
    const pump = () => {
      while (i < count) {
        if (!res.write(event(i++))) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  };
});

upstream.listen(0, '127.0.0.1', () => {
  process.send!({ port: (upstream.address() as AddressInfo).port });
});

process.on('message', (msg: { run: string; mb: number }) => {
  count = Math.ceil((msg.mb * 1024 * 1024) / Buffer.byteLength(event(0)));
  let firstEventMs = -1;
  let bytes = 0;
  const t0 = performance.now();
  const req = http.request(msg.run + '/mcp', { headers: { accept: 'text/event-stream', 'mcp-session-id': 'bench-stream' } }, (res) => {
    res.on('data', (c: Buffer) => {
      bytes += c.length;
      if (firstEventMs < 0) {
        firstEventMs = performance.now() - firstSentAt;
        startPump?.();
      }
    });
    res.on('end', () => {
      process.send!({ done: true, firstEventMs, bytes, seconds: (performance.now() - t0) / 1000, events: count });
      upstream.close();
      setImmediate(() => process.exit(0));
    });
  });
  req.end();
});
