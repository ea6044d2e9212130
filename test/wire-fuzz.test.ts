import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { SseDecoder, type SseEvent } from '../src/wire/sse.js';
import { BodyTap, type BodyResult } from '../src/wire/body.js';
import { classify, decodeJsonRpcText } from '../src/wire/jsonrpc.js';
import { WsFrameDecoder } from '../src/wire/ws-frames.js';

// DESIGN invariant 5: a decoder gives the same result however its input is split into chunks.
// Every input is split at every position (small inputs) and in 200 seeded random patterns.

function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomSplits(buf: Buffer, rand: () => number): Buffer[] {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(rand() * Math.min(64, buf.length - i));
    parts.push(buf.subarray(i, i + n));
    i += n;
  }
  return parts;
}

function* splittings(buf: Buffer, seed: number): Generator<Buffer[]> {
  if (buf.length <= 600) for (let i = 1; i < buf.length; i++) yield [buf.subarray(0, i), buf.subarray(i)];
  const rand = prng(seed);
  for (let k = 0; k < 200; k++) yield randomSplits(buf, rand);
}

function chunksOf(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

function sse(parts: Buffer[], limit?: number): { events: SseEvent[] } {
  const events: SseEvent[] = [];
  const d = new SseDecoder((e) => events.push(e), undefined, limit);
  for (const p of parts) d.push(p);
  d.end();
  return { events };
}

const initResult = { jsonrpc: '2.0', id: 0, result: { protocolVersion: '2025-11-25', capabilities: { tools: { listChanged: true } }, serverInfo: { name: 'everything', version: '2.0.0' } } };
const streams: Record<string, string> = {
  'streamable response with progress first': [
    'event: message\nid: 1\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1,"total":3}}\n\n',
    ': keep-alive\n\n',
    `event: message\nid: 2\ndata: ${JSON.stringify(initResult)}\n\n`,
  ].join(''),
  'legacy endpoint then CRLF message': 'event: endpoint\r\ndata: /message?sessionId=6f1c\r\n\r\nevent: message\r\ndata: {"jsonrpc":"2.0","id":"a","result":{}}\r\n\r\n',
  'multi-line data, emoji and CJK': 'data: {"jsonrpc":"2.0","method":"notifications/message",\ndata: "params":{"level":"info","data":"héllo 🌍 你好"}}\n\n',
  'priming event and retry': 'id: 0\ndata:\n\nretry: 1000\n\nevent: message\ndata: {"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"Method not found"}}\n\n',
  garbage: 'data: {"jsonrpc":"2.0", oops\n\n\u0000\u0001binary\n\nnonsense line\nevent: message\ndata: not json\n\n',
};

describe('SseDecoder', () => {
  it.each(Object.entries(streams))('%s decodes the same however it is split', (_name, text) => {
    const whole = Buffer.from(text);
    const expected = sse([whole]);
    expect(expected.events.length).toBeGreaterThan(0);
    for (const parts of splittings(whole, whole.length)) expect(sse(parts)).toEqual(expected);
  });

  it('reads event names, ids and multi-byte text', () => {
    const r = sse([Buffer.from(streams['legacy endpoint then CRLF message'])]);
    expect(r.events[0]).toEqual({ event: 'endpoint', data: '/message?sessionId=6f1c', id: null, cut: null });
    expect(r.events[1].event).toBe('message');
    const m = sse([Buffer.from(streams['multi-line data, emoji and CJK'])]);
    expect(JSON.parse(m.events[0].data).params.data).toBe('héllo 🌍 你好');
  });

  it('passes a 2 MB event whole', () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'x'.repeat(2 * 1024 * 1024) }] } });
    const r = sse(randomSplits(Buffer.from(`event: message\ndata: ${big}\n\n`), prng(7)).map((b) => Buffer.from(b)));
    expect(r.events).toHaveLength(1);
    expect(r.events[0].data).toBe(big);
  });

  it('reports the event a stream ends inside, with its data, marked unfinished, however it is split', () => {
    const text = 'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\ndata: {"jsonrpc":"2.0","id":2,\ndata: "result":{}}\n';
    const whole = sse([Buffer.from(text)]);
    expect(whole.events).toEqual([
      { event: 'message', data: '{"jsonrpc":"2.0","id":1,"result":{}}', id: null, cut: null },
      { event: 'message', data: '{"jsonrpc":"2.0","id":2,\n"result":{}}', id: null, cut: { kind: 'unfinished', size: 50 } },
    ]);
    for (const parts of splittings(Buffer.from(text), 3)) expect(sse(parts)).toEqual(whole);
    expect(sse([Buffer.from('data: x')]).events).toEqual([{ event: 'message', data: 'x', id: null, cut: { kind: 'unfinished', size: 7 } }]);
  });

  it('ends cleanly on every blank-line form, and after comments or fields without data', () => {
    for (const text of ['data: a\n\n', 'data: a\r\r', 'data: a\r\n\r\n', 'data: a\n\r\n', ': ping\n\n', ': ping\n', 'event: x\n', 'data: a\n\n\n']) {
      const r = sse([Buffer.from(text)]);
      expect(r.events.every((e) => e.cut == null), JSON.stringify(text)).toBe(true);
    }
  });

  it('drops a UTF-8 BOM at the start of the stream, as EventSource and TextDecoderStream do', () => {
    const text = '\ufeffevent: endpoint\ndata: /messages?sessionId=ab12\n\n';
    const whole = sse([Buffer.from(text)]);
    expect(whole.events).toEqual([{ event: 'endpoint', data: '/messages?sessionId=ab12', id: null, cut: null }]);
    for (const parts of splittings(Buffer.from(text), 5)) expect(sse(parts)).toEqual(whole);
    // Only the first: later, a BOM is a character of the field name, as clients read it (no data line).
    expect(sse([Buffer.from('data: a\n\n\ufeffdata: b\n\n')]).events.map((e) => e.data)).toEqual(['a']);
  });

  it('reads an event past its size bound once, cut to its start, and the events after it whole', () => {
    const big = `data: {"jsonrpc":"2.0","id":1,"result":{"text":"${'x'.repeat(5000)}"}}\n`;
    const text = `event: message\nid: 7\n${big}${big}\ndata: {"jsonrpc":"2.0","id":2,"result":{}}\n\n`;
    // The cut is made at the chunk that crosses the bound (sockets and inflate hand over at most 64 KB).
    const whole = sse(chunksOf(Buffer.from(text), 1000), 4096);
    expect(whole.events).toHaveLength(2);
    expect(whole.events[0]).toMatchObject({ event: 'message', id: '7', cut: { kind: 'over-limit', size: text.indexOf('\n\n') + 2 } });
    expect(whole.events[0].data.length).toBeLessThanOrEqual(4096);
    expect(whole.events[0].data.startsWith('{"jsonrpc":"2.0","id":1')).toBe(true);
    expect(whole.events[1]).toEqual({ event: 'message', data: '{"jsonrpc":"2.0","id":2,"result":{}}', id: null, cut: null });
    // Split into chunks smaller than the bound, the cut comes at the chunk that crosses it: the same events.
    const rand = prng(11);
    for (let k = 0; k < 50; k++) {
      const r = sse(randomSplits(Buffer.from(text), rand).flatMap((b) => chunksOf(b, 1000)), 4096);
      expect(r.events.map((e) => [e.cut?.kind ?? null, e.cut?.size ?? null, e.id])).toEqual(whole.events.map((e) => [e.cut?.kind ?? null, e.cut?.size ?? null, e.id]));
      expect(r.events[1]).toEqual(whole.events[1]);
    }
  });

  it('holds no more than its bound of an unfinished event that never ends', () => {
    const events: SseEvent[] = [];
    const dec = new SseDecoder((e) => events.push(e), undefined, 1024 * 1024);
    dec.push(Buffer.from('data: '));
    const chunk = Buffer.alloc(64 * 1024, 'y');
    for (let i = 0; i < 96 * 16; i++) dec.push(chunk);
    dec.end();
    expect(events).toHaveLength(1);
    expect(events[0].cut).toEqual({ kind: 'over-limit', size: 6 + 96 * 1024 * 1024 });
    expect(events[0].data.length).toBeLessThanOrEqual(1024 * 1024);
  });
});

describe('JSON-RPC classification', () => {
  it.each([
    [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'query', arguments: {} } }, { kind: 'request', rpcId: 1, method: 'tools/call', subject: 'query' }],
    [{ jsonrpc: '2.0', method: 'notifications/initialized' }, { kind: 'notification', method: 'notifications/initialized' }],
    [{ jsonrpc: '2.0', id: 'x', result: { content: [], isError: true } }, { kind: 'response', rpcId: 'x', isError: true }],
    [{ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Not Acceptable' } }, { kind: 'error', rpcId: null, errorCode: -32000, isError: true }],
    [{ jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'demo://resource/1' } }, { kind: 'request', subject: 'demo://resource/1' }],
    [{ id: 1, method: 'ping' }, { kind: 'invalid', decodeError: { kind: 'invalid-jsonrpc', detail: 'missing "jsonrpc": "2.0"' } }],
    [{ jsonrpc: '2.0', id: { a: 1 }, method: 'ping' }, { kind: 'invalid' }],
    [{ jsonrpc: '2.0', id: 1, result: {}, error: { code: 1, message: 'x' } }, { kind: 'invalid' }],
    [{ jsonrpc: '2.0', id: 1, error: { code: 'E', message: 'x' } }, { kind: 'invalid' }],
    [{ jsonrpc: '2.0', id: null, method: 'ping' }, { kind: 'invalid' }],
  ])('%j', (value, expected) => {
    expect(classify(value)).toMatchObject(expected);
  });

  it('splits a batch into members with their own text and index', () => {
    const batch = decodeJsonRpcText('[{"jsonrpc":"2.0","id":1,"method":"a"}, {"jsonrpc":"2.0","method":"b"}]');
    expect(batch.map((m) => [m.kind, m.method, m.batchIndex, m.text])).toEqual([
      ['request', 'a', 0, '{"jsonrpc":"2.0","id":1,"method":"a"}'],
      ['notification', 'b', 1, '{"jsonrpc":"2.0","method":"b"}'],
    ]);
    expect(decodeJsonRpcText('[]')[0]).toMatchObject({ kind: 'invalid', decodeError: { kind: 'invalid-jsonrpc', detail: 'empty batch' } });
    expect(decodeJsonRpcText('  \n')).toEqual([]);
    const bad = decodeJsonRpcText('{"jsonrpc":"2.0",');
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ kind: 'non-json', text: '{"jsonrpc":"2.0",' });
    expect(bad[0].decodeError).toBeTruthy();
  });
});

function tap(parts: Buffer[], encoding: string | null, cap: number): Promise<{ decoded: string; result: BodyResult }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const t = new BodyTap({ contentEncoding: encoding, cap, onDecoded: (c) => chunks.push(c), onEnd: (result) => resolve({ decoded: Buffer.concat(chunks).toString(), result }) });
    for (const p of parts) t.push(p);
    t.end();
  });
}

describe('BodyTap', () => {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 3, result: { tools: Array.from({ length: 200 }, (_, i) => ({ name: `tool_${i}`, description: 'ünïcödé ' + i })) } });
  const encoded: Record<string, Buffer> = {
    identity: Buffer.from(body),
    gzip: zlib.gzipSync(body),
    deflate: zlib.deflateSync(body),
    'raw deflate': zlib.deflateRawSync(body),
    br: zlib.brotliCompressSync(body),
    'gzip, br': zlib.brotliCompressSync(zlib.gzipSync(body)),
  };
  const header = (k: string) => (k === 'raw deflate' ? 'deflate' : k);

  it.each(Object.keys(encoded))('%s decodes to the same text however it is split', async (k) => {
    const rand = prng(k.length * 31);
    for (let i = 0; i < 25; i++) {
      const r = await tap(randomSplits(encoded[k], rand), header(k), 1 << 20);
      expect(r.decoded).toBe(body);
      expect(r.result).toMatchObject({ text: body, truncated: false, error: null, wireBytes: encoded[k].length, decodedBytes: Buffer.byteLength(body) });
    }
  });

  it('keeps only the first cap bytes and flags the rest, while passing every byte on', async () => {
    const r = await tap([Buffer.from(body)], null, 100);
    expect(r.result.truncated).toBe(true);
    expect(Buffer.byteLength(r.result.text!)).toBeLessThanOrEqual(100);
    expect(body.startsWith(r.result.text!)).toBe(true);
    expect(r.result.text!.length).toBeGreaterThan(90);
    expect(r.decoded).toBe(body);
  });

  it('never stores half a character when it truncates', async () => {
    for (let cap = 1; cap < 12; cap++) {
      const r = await tap([Buffer.from('a€😀ü€😀ü')], null, cap);
      expect('a€😀ü€😀ü'.startsWith(r.result.text!)).toBe(true);
      expect(Buffer.byteLength(r.result.text!)).toBeLessThanOrEqual(cap);
    }
  });

  it('reports a corrupt gzip body without throwing', async () => {
    const r = await tap([Buffer.from('this is not gzip at all')], 'gzip', 1000);
    expect(r.result.error).toMatch(/gzip/);
  });

  it('keeps the raw bytes of an unknown coding and says so', async () => {
    const r = await tap([Buffer.from('abc')], 'zstd-unknown', 1000);
    expect(r.result).toMatchObject({ text: 'abc', error: 'unsupported content-encoding: zstd-unknown' });
  });
});

// WebSocket frames as a client (masked) or server (not) writes them, built here byte by byte.
function frame(opcode: number, payload: Buffer, opts: { fin?: boolean; mask?: boolean; rsv1?: boolean } = {}): Buffer {
  const { fin = true, mask = false, rsv1 = false } = opts;
  const len = payload.length;
  const head = [((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode)];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  return Buffer.concat([Buffer.from(head), key, Buffer.from(payload.map((b, i) => b ^ key[i & 3]))]);
}
const deflated = (text: string) => {
  const d = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return d.subarray(0, d.length - 4);
};

function wsDecode(parts: Buffer[], deflate: { noContextTakeover: boolean } | null) {
  const out: Array<[number, string, boolean]> = [];
  const closes: Array<[number, string]> = [];
  const errors: string[] = [];
  const d = new WsFrameDecoder({
    onMessage: (m) => out.push([m.opcode, m.data.toString('utf8'), m.truncated]),
    onClose: (code, reason) => closes.push([code, reason]),
    onError: (e) => errors.push(e),
  }, deflate, 100_000);
  for (const p of parts) d.push(p);
  return { out, closes, errors };
}

describe('WsFrameDecoder', () => {
  const big = JSON.stringify({ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'é'.repeat(40_000) }] } });
  const msg = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: `héllo ${id} 🌍` } } });
  const cases: Record<string, { bytes: Buffer; deflate: { noContextTakeover: boolean } | null; expected: Array<[number, string, boolean]> }> = {
    'masked client frames, a ping between fragments, a 16-bit and a 64-bit length': {
      bytes: Buffer.concat([
        frame(1, Buffer.from(msg(1)), { mask: true }),
        frame(1, Buffer.from(msg(2).slice(0, 20)), { mask: true, fin: false }),
        frame(9, Buffer.from('ping'), { mask: true }),
        frame(0, Buffer.from(msg(2).slice(20)), { mask: true }),
        frame(1, Buffer.from(big), { mask: true }),
        frame(2, Buffer.from([0xde, 0xad]), { mask: true }),
        frame(8, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')]), { mask: true }),
      ]),
      deflate: null,
      expected: [[1, msg(1), false], [1, msg(2), false], [1, big, false], [2, Buffer.from([0xde, 0xad]).toString('utf8'), false]],
    },
    'server frames compressed per message (no context takeover)': {
      bytes: Buffer.concat([frame(1, deflated(msg(3)), { rsv1: true }), frame(1, Buffer.from(msg(4))), frame(1, deflated(big), { rsv1: true })]),
      deflate: { noContextTakeover: true },
      expected: [[1, msg(3), false], [1, msg(4), false], [1, big, false]],
    },
    'a message over the decode cap is counted, not kept': {
      bytes: Buffer.concat([frame(1, Buffer.from('x'.repeat(150_000))), frame(1, Buffer.from(msg(5)))]),
      deflate: null,
      expected: [[1, '', true], [1, msg(5), false]],
    },
  };

  it.each(Object.entries(cases))('%s decodes the same however it is split', (_name, c) => {
    const whole = wsDecode([c.bytes], c.deflate);
    expect(whole.errors).toEqual([]);
    expect(whole.out).toEqual(c.expected);
    for (const parts of splittings(c.bytes, 7)) expect(wsDecode(parts, c.deflate)).toEqual(whole);
  });

  it('reads the close code and reason', () => {
    const r = wsDecode([frame(8, Buffer.concat([Buffer.from([0x0f, 0xa1]), Buffer.from('bye now')]))], null);
    expect(r.closes).toEqual([[4001, 'bye now']]);
  });

  it('reports broken framing once and stops', () => {
    const r = wsDecode([frame(0, Buffer.from('orphan continuation')), frame(1, Buffer.from(msg(6)))], null);
    expect(r.errors).toEqual(['unexpected frame opcode 0']);
    expect(r.out).toEqual([]);
  });
});
