import { describe, expect, it } from 'vitest';
import { LineSplitter, NdjsonDecoder, type Line } from '../src/wire/ndjson.js';
import type { DecodedMessage } from '../src/wire/jsonrpc.js';
import { prng, randomSplits, splittings } from './helpers/splits.js';

// DESIGN invariant 5 for the stdio framing: the same messages however the bytes are split.

function decode(parts: Buffer[], limit?: number): Array<{ messages: Array<Omit<DecodedMessage, 'value'>>; size: number; unterminated: boolean }> {
  const out: Array<{ messages: Array<Omit<DecodedMessage, 'value'>>; size: number; unterminated: boolean }> = [];
  const d = new NdjsonDecoder((messages, line) => out.push({ messages: messages.map(({ value: _v, ...m }) => m), size: line.size, unterminated: line.unterminated }), limit);
  for (const p of parts) d.push(p);
  d.end();
  return out;
}

const streams: Record<string, string> = {
  'a handshake': [
    '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}',
    '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"héllo 🌍 你好"}}}',
    '',
  ].join('\n'),
  'CRLF, blank lines and a batch': '\r\n{"jsonrpc":"2.0","id":1,"result":{}}\r\n\n   \n[{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}]\n',
  garbage: 'not json\n{"jsonrpc":"2.0", oops\n\u0000\u0001\u00ff binary\n{"id":1}\n[]\n{"jsonrpc":"2.0","id":3,"meth',
};

describe('NdjsonDecoder', () => {
  it.each(Object.entries(streams))('%s decodes the same however it is split', (_name, text) => {
    const whole = Buffer.from(text);
    const expected = decode([whole]);
    expect(expected.length).toBeGreaterThan(1);
    for (const parts of splittings(whole, whole.length)) expect(decode(parts)).toEqual(expected);
  });

  it('classifies each line and strips the CR of CRLF', () => {
    const kinds = decode([Buffer.from(streams['CRLF, blank lines and a batch'])]).map((l) => l.messages.map((m) => [m.kind, m.batchIndex, m.text.endsWith('\r')]));
    expect(kinds).toEqual([[['response', null, false]], [['request', 0, false], ['notification', 1, false]]]);
    const g = decode([Buffer.from(streams.garbage)]);
    expect(g.map((l) => l.messages[0].kind)).toEqual(['non-json', 'non-json', 'non-json', 'invalid', 'invalid', 'non-json']);
    expect(g.at(-1)).toMatchObject({ unterminated: true, size: 29 });
    expect(g.at(-1)!.messages[0].text).toBe('{"jsonrpc":"2.0","id":3,"meth');
  });

  it('keeps multi-byte characters split across chunks whole', () => {
    const line = Buffer.from('{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"🌍🌍🌍"}}\n');
    for (let i = 1; i < line.length; i++) {
      const [l] = decode([line.subarray(0, i), line.subarray(i)]);
      expect(l.messages[0].kind).toBe('notification');
      expect(l.messages[0].text).toBe(line.toString('utf8').trim());
    }
  });

  it('a line past the limit: counted whole, head kept, not decoded, the same however split', () => {
    const big = Buffer.from(`{"jsonrpc":"2.0","id":1,"result":{"text":"${'y'.repeat(5000)}"}}\n{"jsonrpc":"2.0","id":2,"result":{}}\n`);
    const expected = decode([big], 1024);
    expect(expected).toHaveLength(2);
    expect(expected[0].messages[0]).toMatchObject({ kind: 'non-json', size: big.indexOf(10) });
    expect(expected[0].messages[0].text).toHaveLength(1024);
    expect(expected[0].messages[0].decodeError).toMatchObject({ kind: 'over-limit', detail: expect.stringMatching(/over the 1024-byte decoding limit/) });
    expect(expected[1].messages[0].kind).toBe('response');
    const rand = prng(3);
    for (let k = 0; k < 200; k++) expect(decode(randomSplits(big, rand, 700), 1024)).toEqual(expected);
  });
});

describe('LineSplitter', () => {
  it('gives the same lines for every split of stderr-like text', () => {
    const text = Buffer.from('Starting server...\r\nwarn: ✓ ünïcode\n\nno newline at the end');
    const run = (parts: Buffer[]) => {
      const lines: Array<Omit<Line, 'bytes'> & { text: string }> = [];
      const s = new LineSplitter(({ bytes, ...rest }) => lines.push({ ...rest, text: bytes.toString('utf8') }));
      for (const p of parts) s.push(p);
      s.end();
      return lines;
    };
    const expected = run([text]);
    expect(expected.map((l) => l.text)).toEqual(['Starting server...', 'warn: ✓ ünïcode', '', 'no newline at the end']);
    expect(expected.at(-1)!.unterminated).toBe(true);
    for (const parts of splittings(text, 11)) expect(run(parts)).toEqual(expected);
  });
});
