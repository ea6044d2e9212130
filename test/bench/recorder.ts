import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RpcMessage, Session } from '../../src/model/model.js';
import { openDatabase } from '../../src/store/db.js';
import { RecorderClient } from '../../src/store/recorder-client.js';

/**
 * Recorder throughput, the way the proxy records: messages pushed as the hub would push them (a
 * request, then its response updating the request) into the RecorderClient, which packs batches on
 * this thread and writes them on the database thread, until every row is on disk.
 */
export async function benchRecorder(total = 200_000): Promise<{ messages: number; perSecond: number; ms: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-'));
  const file = path.join(dir, 'bench.db');
  openDatabase(file, { create: true }).close();
  const rec = new RecorderClient(file, (w) => process.stderr.write(`recorder bench: ${w}\n`));
  const session: Session = {
    id: 'benchrecorder', label: 'bench', transport: 'streamable-http', target: 'http://127.0.0.1:1', mcpSessionId: 'x',
    protocolVersion: '2025-06-18', clientInfo: { name: 'bench' }, serverInfo: { name: 'bench' }, clientCapabilities: {},
    serverCapabilities: {}, startedAt: Date.now(), endedAt: null, endReason: null, messageCount: 0, errorCount: 0, exchangeCount: 0,
  };
  const t0 = performance.now();
  let seq = 1;
  // Push in slices so the recorder's timer gets its turns, as it does under live traffic.
  for (let i = 0; i < total / 2; i++) {
    const ts = Date.now();
    const req: RpcMessage = {
      sessionId: session.id, seq: seq++, exchangeId: null, ts, direction: 'client->server', channel: 'request-body',
      kind: 'request', rpcId: i, method: 'tools/call', subject: 'echo',
      payload: `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello ${i}"}}}`,
      truncated: false, size: 90, correlatedSeq: null, latencyMs: null, sseEventId: null, batchIndex: null, isError: false, errorCode: null, decodeError: null,
    };
    const res: RpcMessage = {
      ...req, seq: seq++, direction: 'server->client', channel: 'response-sse', kind: 'response', correlatedSeq: req.seq, latencyMs: 0.4,
      payload: `{"jsonrpc":"2.0","id":${i},"result":{"content":[{"type":"text","text":"Echo: hello ${i}"}]}}`,
    };
    req.correlatedSeq = res.seq;
    rec.message(req);
    rec.message(res);
    session.messageCount += 2;
    if (i % 5000 === 0) {
      rec.session(session);
      await new Promise((r) => setImmediate(r));
    }
  }
  rec.session(session);
  if (await rec.close()) throw new Error('recorder bench: the database refused records');
  const ms = performance.now() - t0;
  const db = openDatabase(file, { readonly: true });
  const n = (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  if (n !== total) throw new Error(`recorder lost messages: ${n} of ${total} written`);
  return { messages: n, perSecond: Math.round(n / (ms / 1000)), ms: Math.round(ms) };
}
