import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { writeRecording } from '../src/store/jsonl.js';

// Records one legacy SSE session in which every fact the capture knows happens for real: an absolute
// `endpoint` (rewritten), a redirect and an OAuth challenge on the upstream's origin (rewritten), events
// that are not JSON, not JSON-RPC or under another event name, a request body in a broken gzip, a client
// that gives up, a POST that finds the server gone, and the stream it then cuts (a resumed one, with a
// keep-alive: its facts are in the recording from version 4). Run with the mcptap of a
// format version to make its fixture:
//   npm run build && node dist/test/record-fault-fixture.js test/fixtures/recording-v4.jsonl

const out = path.resolve(process.argv[2] ?? 'recording-faults.jsonl');
const SESSION = 'fixture-session-1';

const streams: http.ServerResponse[] = [];
const upstream = http.createServer((req, res) => {
  const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const url = new URL(req.url ?? '/', origin);
  if (req.method === 'GET' && url.pathname === '/sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(`event: endpoint\ndata: ${origin}/message?sessionId=${SESSION}\n\n`);
    res.write(': keep-alive\n\n');
    streams.push(res);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (url.pathname === '/moved') {
      res.writeHead(307, { location: `${origin}/message?sessionId=${SESSION}` });
      return void res.end();
    }
    if (url.pathname === '/private') {
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/private"` });
      return void res.end();
    }
    if (url.pathname === '/slow') return; // never answers: the client gives up
    res.writeHead(202);
    res.end('Accepted');
    const body = Buffer.concat(chunks).toString('utf8');
    if (body.includes('"initialize"')) {
      const s = streams[0];
      s.write(`event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2024-11-05","capabilities":{},"serverInfo":{"name":"fault-fixture","version":"1"}}}\n\n`);
      s.write('event: message\ndata: <html>Bad Gateway</html>\n\n');
      s.write('event: rpc\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"unread"}}\n\n');
      s.write('event: message\ndata: {"id":7,"result":{}}\n\n');
    }
  });
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-fault-fixture-'));
const db = path.join(dir, 'faults.db');
const proxy = await startProxy({ target, port: 0, db, label: 'fault fixture', onWarning: () => {} });
const message = `${proxy.url}/message?sessionId=${SESSION}`;
const post = (url: string, body: string | Buffer, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal, redirect: 'manual' }).then((r) => r.arrayBuffer()).catch(() => null);

// An EventSource reconnecting sends the id of the last event it saw: the stream's facts keep it.
const stream = await fetch(`${proxy.url}/sse`, { headers: { accept: 'text/event-stream', 'last-event-id': 'fixture-event-0' } });
const reader = stream.body!.getReader();
let seen = '';
const waitFor = async (text: string) => {
  while (!seen.includes(text)) {
    // The cut stream ends in an error on the client's side, as it should.
    const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
    if (done) return;
    seen += Buffer.from(value).toString('utf8');
  }
};
await waitFor('sessionId=');
await post(message, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'fault-fixture-client', version: '1' } } }));
await waitFor('"id":7');
await post(message, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
await post(`${proxy.url}/moved?sessionId=${SESSION}`, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
await post(`${proxy.url}/private?sessionId=${SESSION}`, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
const giveUp = new AbortController();
const slow = post(`${proxy.url}/slow?sessionId=${SESSION}`, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }), {}, giveUp.signal);
await proxy.flush();
giveUp.abort();
await slow;
// The server stops listening (its event stream stays up): the next POST finds no one; then it drops the stream.
const closed = new Promise<void>((r) => upstream.close(() => r()));
upstream.closeIdleConnections();
await post(message, JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' }));
streams[0].socket?.destroy();
await waitFor('never');
upstream.closeAllConnections();
await closed;
await proxy.close();

const store = CaptureStore.open(db, { readonly: true });
const session = store.listSessions().find((s) => s.transport === 'sse')!;
writeRecording(store, session.id, out);
store.close();
fs.rmSync(dir, { recursive: true, force: true });
console.log(`session ${session.id}: ${session.messageCount} messages, ${session.exchangeCount} exchanges → ${out}`);
