import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv, type AnySchema, type AnySchemaObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Har } from 'har-format';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { toHar } from '../src/store/har.js';
import { connectClient, startStreamableServer, startWsServer, type Peer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// HAR export of real captures: server-everything over Streamable HTTP (SSE response bodies) and over
// WebSocket (frames), checked against the HAR 1.2 JSON schemas of the har-schema package.

const require = createRequire(import.meta.url);
const harSchemas = require('har-schema') as Record<string, AnySchema>;

function harValidator(): ValidateFunction {
  // The schemas are draft-06 and carry a few keywords of their own (`min`, `optional`).
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as AnySchemaObject);
  for (const [name, schema] of Object.entries(harSchemas)) if (name !== 'har') ajv.addSchema(schema);
  return ajv.compile(harSchemas.har);
}

const tmp = tempDb();
const peers: Peer[] = [];
let proxy: RunningProxy;
let http: Har;
let ws: Har;

beforeAll(async () => {
  const httpPeer = await startStreamableServer();
  const wsPeer = await startWsServer();
  peers.push(httpPeer, wsPeer);
  proxy = await startProxy({ target: httpPeer.url, port: 0, db: tmp.db, label: 'har-http', onWarning: () => {} });
  const a = await connectClient('streamable-http', proxy.url + '/mcp');
  await a.client.callTool({ name: 'echo', arguments: { message: 'into the archive' } });
  await a.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.1, steps: 2 } }, undefined, { onprogress: () => {} });
  await a.close();
  await proxy.flush();
  await proxy.close();
  proxy = await startProxy({ target: wsPeer.url, port: 0, db: tmp.db, label: 'har-ws', onWarning: () => {} });
  const b = await connectClient('websocket', proxy.url.replace('http', 'ws') + '/');
  await b.client.callTool({ name: 'echo', arguments: { message: 'over a socket' } });
  await b.close();
  await proxy.flush();
  await proxy.close();
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    const sessions = store.listSessions();
    http = toHar(store, sessions.find((s) => s.label === 'har-http' && s.transport === 'streamable-http')!.id);
    ws = toHar(store, sessions.find((s) => s.label === 'har-ws' && s.transport === 'websocket')!.id);
  } finally {
    store.close();
  }
});

afterAll(async () => {
  await proxy?.close();
  for (const p of peers) await p.close();
  tmp.cleanup();
});

describe('HAR export', () => {
  const validate = harValidator();

  it('validates against the HAR 1.2 schema', () => {
    for (const har of [http, ws]) {
      const ok = validate(har);
      expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
      expect(ok).toBe(true);
      expect(har.log.version).toBe('1.2');
      expect(har.log.creator.name).toBe('mcptap');
    }
  });

  it('the validator rejects a broken archive (the schema check is real)', () => {
    const broken = structuredClone(http);
    delete (broken.log.entries[0] as Partial<(typeof broken.log.entries)[0]>).timings;
    (broken.log.entries[1].response as { status: unknown }).status = 'OK';
    expect(validate(broken)).toBe(false);
    expect(validate.errors!.map((e) => e.message).join('; ')).toMatch(/timings|integer/);
  });

  it('has one entry per HTTP exchange, with both bodies and an SSE response as its event-stream text', () => {
    const entries = http.log.entries;
    expect(entries.length).toBeGreaterThanOrEqual(4);
    expect(entries.every((e) => e.request.url.startsWith('http://127.0.0.1:'))).toBe(true);
    const init = entries.find((e) => e.request.postData?.text?.includes('"initialize"'))!;
    expect(init.request.method).toBe('POST');
    expect(init.response.status).toBe(200);
    expect(init.response.headers.some((h) => h.name.toLowerCase() === 'mcp-session-id')).toBe(true);
    const echo = entries.find((e) => e.request.postData?.text?.includes('into the archive'))!;
    expect(echo.response.content.mimeType).toBe('text/event-stream');
    expect(echo.response.content.text).toMatch(/^event: message\n(id: .*\n)?data: \{.*Echo: into the archive/m);
    expect(echo._resourceType).toBe('eventsource');
    const long = entries.find((e) => e.request.postData?.text?.includes('trigger-long-running-operation'))!;
    expect(long.response.content.text!.match(/notifications\/progress/g)).toHaveLength(2);
    // Timings add up and are in order.
    for (const e of entries) {
      expect(e.timings.wait).toBeGreaterThanOrEqual(0);
      expect(e.time).toBeCloseTo(e.timings.wait + e.timings.receive, 6);
    }
    expect(long.time).toBeGreaterThanOrEqual(100);
    const starts = entries.map((e) => Date.parse(e.startedDateTime));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });

  it('writes a WebSocket connection as one entry with its frames in _webSocketMessages', () => {
    expect(ws.log.entries).toHaveLength(1);
    const e = ws.log.entries[0];
    expect(e.request.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    expect(e.response.status).toBe(101);
    expect(e._resourceType).toBe('websocket');
    const frames = e._webSocketMessages!;
    const sent = frames.filter((f) => f.type === 'send').map((f) => JSON.parse(f.data));
    const received = frames.filter((f) => f.type === 'receive').map((f) => JSON.parse(f.data));
    expect(sent.map((m) => m.method)).toEqual(['initialize', 'notifications/initialized', 'tools/call']);
    expect(received.find((m) => m.id === sent[2].id).result.content[0].text).toBe('Echo: over a socket');
    expect(frames.every((f) => f.opcode === 1)).toBe(true);
    const startSec = Date.parse(e.startedDateTime) / 1000;
    for (const f of frames) expect(f.time).toBeGreaterThanOrEqual(startSec - 0.001);
    expect(frames.map((f) => f.time)).toEqual([...frames.map((f) => f.time)].sort((a, b) => a - b));
  });
});
