import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scanned, scrub } from '../src/capture/redact-text.js';
import { jsonPieces } from '../src/capture/redact-json.js';
import { isCodeField, isSecretName } from '../src/capture/secret-names.js';

// scrub() reads a JSON text's pieces with redact-json.ts instead of its SCAN pattern: the result must be
// the text SCAN gives, byte for byte, for every text. Compared here over every recorded fixture (each file,
// each line, each string inside, each line pretty-printed) and over texts made to sit on the edges.
const here = path.dirname(new URL(import.meta.url).pathname);

/** A conceal of its own per side: each side keeps its own memo of long strings. */
const conceal = () => (s: string) => `[redacted:${crypto.createHash('sha256').update(s).digest('hex').slice(0, 8)}]`;

const EDGES = [
  '{"token":"tok-value-123456","n":1}',
  '{"password": 12345678, "pin": -5e3, "x": true, "y": null}',
  '{"api_keys":["first-key-0001","second-key-0002", 17, null]}',
  '{"scopes":["read:all the things","https://example.com/x?token=abcdef123456"]}',
  '{"deep":[["sk-proj-abcdefghij0123456789"], {"a": "Bearer abcdefgh12345678"}]}',
  '{"empty":[], "emptyObj":{}, "list":[ ], "tools":[{"name":"x"}]}',
  '{"code":"SplxlOBeZQQYbYS6WxSbIA","code2":"short","code":"not a token at all"}',
  '{"content":[{"type":"text","text":"{\\"access_token\\":\\"inner-access-tok\\"}"}]}',
  '{"text":"{\\n  \\"DB_PASSWORD\\": \\"envdump-pass-1\\"\\n}"}',
  '{"text":"line one\\nauthorization: Bearer bearer-tok-0123456789\\n--token=flag-secret-99"}',
  '{"a\\u0074oken":"escaped-key-value-1","k\\"ey":"quote in key 123456"}',
  '{"dsn":"mysql://root:jsonurl-pw-77@127.0.0.1/x","path":"/home/me/.config/app/settings.json"}',
  '[1, 2.5, -0.25e-3, "plain words only", {"url":"http://a.example/?api_key=querykey1234"}]',
  '{\n  "pretty": "printed value here",\n  "token": "pretty-token-123456",\n  "list": [\n    "one item of text",\n    2\n  ]\n}',
  '{"a":"x\\\\n-flag value here","b":"tab\\tseparated: value-123456"}',
  '{"unicode":"caf\u00e9 \u2028 na\u00efve text here","emoji":"\ud83d\ude00 sk-ant-api03-abcdefghijklmnop0123"}',
  // Not JSON this reader takes: SCAN reads them.
  '{"token":"cut off here',
  '{"a":1} trailing',
  '{"a":01}',
  '{"a": tru}',
  '{a: "unquoted key value"}',
  '{"raw\nnewline":"value-123456789"}',
  "{'single': 'quotes-123456789'}",
  '\ufeff{"bom":"before the brace"}',
  '{"nbsp":\u00a0"value after nbsp 12345"}',
];

function corpus(): string[] {
  const texts = [...EDGES];
  const files: string[] = [];
  const walk = (d: string) => {
    for (const f of fs.readdirSync(d)) {
      const p = path.join(d, f);
      if (fs.statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(path.join(here, 'fixtures'));
  const strings = (v: unknown): void => {
    if (typeof v === 'string') texts.push(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x);
  };
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    texts.push(text);
    for (const line of text.split('\n')) {
      texts.push(line);
      try {
        const v = JSON.parse(line);
        strings(v);
        texts.push(JSON.stringify(v, null, 2));
      } catch {
        // not JSON: the line alone is enough
      }
    }
  }
  return texts;
}

describe('scrub reads JSON without SCAN, with the same result', () => {
  const texts = corpus();
  const secretKey = (name: string) => isSecretName(name) || isCodeField(name);
  const noop = { string() {}, keyValue() {} };

  it('the corpus holds thousands of texts, JSON among them, that the reader takes', () => {
    const json = texts.filter((t) => jsonPieces(t, secretKey, noop));
    expect(texts.length).toBeGreaterThan(5000);
    expect(json.length).toBeGreaterThan(1000);
    // Every edge case that is JSON is read by the reader, not left to SCAN.
    for (const t of EDGES.slice(0, 16)) expect(jsonPieces(t, secretKey, noop), t).toBe(true);
    for (const t of EDGES.slice(16)) expect(jsonPieces(t, secretKey, noop), t).toBe(false);
  });

  it('every text comes out as SCAN makes it', () => {
    const fast = conceal();
    const slow = conceal();
    let changed = 0;
    for (const t of texts) {
      const a = scrub(t, fast);
      expect(a).toBe(scanned(t, slow));
      if (a !== t) changed++;
    }
    // Secrets were found (the comparison covers the handlers' changes, not only texts left alone).
    expect(changed).toBeGreaterThan(20);
  });
});
