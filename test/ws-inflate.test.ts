import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { tempDb, until } from './helpers/tmp.js';
import { WsFrameDecoder, type WsMessage } from '../src/wire/ws-frames.js';
import { pendingDecodes } from '../src/wire/body.js';

// permessage-deflate messages that inflate to tens of MB are inflated in zlib's thread pool, not on
// the event loop that forwards every other client's bytes: push() returns before such a message is
// decoded, later messages wait for it and keep their order, and the context-takeover window carries on.

/** One unmasked server frame, RSV1 set when compressed. */
function frame(payload: Buffer, compressed: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81 | (compressed ? 0x40 : 0), len]) : len < 65536 ? Buffer.from([0x81 | (compressed ? 0x40 : 0), 126, len >> 8, len & 255]) : Buffer.concat([Buffer.from([0x81 | (compressed ? 0x40 : 0), 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
  return Buffer.concat([head, payload]);
}

describe('permessage-deflate inflation', () => {
  it('inflates a 60 MB message off the event loop, in order, with the window kept for the next one', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'ab'.repeat(30 * 1024 * 1024) }] } });
    const small = JSON.stringify({ jsonrpc: '2.0', id: 2, result: {} });
    // One deflate stream with context takeover: the second message refers back into the first's window.
    const deflate = zlib.createDeflateRaw();
    const compress = (text: string) => new Promise<Buffer>((resolve) => {
      const out: Buffer[] = [];
      const onData = (c: Buffer) => out.push(c);
      deflate.on('data', onData);
      deflate.write(text);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        deflate.off('data', onData);
        const all = Buffer.concat(out);
        resolve(all.subarray(0, all.length - 4));
      });
    });
    const bigWire = await compress(big);
    const smallWire = await compress(small);
    deflate.close();
    expect(bigWire.length).toBeLessThan(1024 * 1024);

    const got: WsMessage[] = [];
    const errors: string[] = [];
    let done!: () => void;
    const both = new Promise<void>((r) => (done = r));
    const decoder = new WsFrameDecoder({
      onMessage: (m) => {
        got.push(m);
        if (got.length === 2) done();
      },
      onError: (e) => errors.push(e),
    }, { noContextTakeover: false }, 64 * 1024 * 1024, false);
    decoder.push(Buffer.concat([frame(bigWire, true), frame(smallWire, true)]));
    // Nothing decoded yet: the big message is inflating in the thread pool, the small one waits behind it.
    expect(got).toHaveLength(0);
    // Whoever judges the connection's end (the capture's close) waits for both.
    let idleAfter = -1;
    decoder.whenIdle(() => (idleAfter = got.length));
    expect(pendingDecodes()).toBe(1);
    await both;
    expect(errors).toEqual([]);
    expect(got[0].data.length).toBe(Buffer.byteLength(big));
    expect(got[0].data.subarray(0, 40).toString()).toBe(big.slice(0, 40));
    expect(got[1].data.toString()).toBe(small);
    expect(idleAfter).toBe(2);
    expect(pendingDecodes()).toBe(0);
  });
});

describe('a connection closed right after a big compressed message', () => {
  const tmp = tempDb();
  let upstream: http.Server;
  let wss: WebSocketServer;
  let proxy: RunningProxy;
  beforeAll(async () => {
    upstream = http.createServer();
    wss = new WebSocketServer({ server: upstream, perMessageDeflate: true });
    wss.on('connection', (ws) => ws.on('error', () => {}));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    proxy = await startProxy({ target: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, port: 0, db: tmp.db, onWarning: () => {} });
  });
  afterAll(async () => {
    await proxy.close();
    for (const c of wss.clients) c.terminate();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    tmp.cleanup();
  });

  it('records the message and a clean close, not a client that dropped the connection', async () => {
    const ws = new WebSocket(proxy.url.replace(/^http/, 'ws') + '/', { perMessageDeflate: true });
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    const big = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x'.repeat(24 * 1024 * 1024) } });
    ws.send(big);
    // The closing handshake follows at once, while the proxy's copy of the message is still inflating.
    ws.close(1000);
    await new Promise((r) => ws.once('close', r));
    await until(async () => {
      await proxy.flush();
      const s = CaptureStore.open(tmp.db, { readonly: true });
      try {
        return s.listSessions().some((x) => s.exchanges(x.id).some((e) => e.endedAt != null));
      } finally {
        s.close();
      }
    }, 'the connection recorded as ended');
    const s = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const session = s.listSessions().find((x) => x.transport === 'websocket')!;
      const [ex] = s.exchanges(session.id);
      expect(ex.aborted).toBe(false);
      expect(ex.failure).toBeNull();
      expect(s.messages(session.id).map((m) => m.method)).toEqual(['notifications/message']);
    } finally {
      s.close();
    }
  });
});
