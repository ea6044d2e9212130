import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
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
    expect(pendingDecodes()).toBe(1);
    await both;
    expect(errors).toEqual([]);
    expect(got[0].data.length).toBe(Buffer.byteLength(big));
    expect(got[0].data.subarray(0, 40).toString()).toBe(big.slice(0, 40));
    expect(got[1].data.toString()).toBe(small);
    expect(pendingDecodes()).toBe(0);
  });
});
