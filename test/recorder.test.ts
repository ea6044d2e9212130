import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { RpcMessage, Session } from '../src/capture/model.js';
import { openDatabase } from '../src/store/db.js';
import { RecorderClient } from '../src/store/recorder-client.js';
import { CaptureStore } from '../src/store/read.js';
import { tempDb } from './helpers/tmp.js';

// The recorder thread with a real database: every message arrives, and when the database is behind
// by more than the allowed bytes, big payloads are stored cut and flagged rather than held in memory.

const tmp = tempDb();
afterAll(() => tmp.cleanup());

const session: Session = {
  id: 'a1b2c3d4e5f6', label: 'rec', transport: 'streamable-http', target: 'http://x', mcpSessionId: null, protocolVersion: null,
  clientInfo: null, serverInfo: null, clientCapabilities: null, serverCapabilities: null, startedAt: 1, endedAt: null, endReason: null,
  messageCount: 0, errorCount: 0, exchangeCount: 0,
};
const message = (seq: number, payload: string): RpcMessage => ({
  sessionId: session.id, seq, exchangeId: null, ts: seq, direction: 'server->client', channel: 'get-sse', kind: 'notification', rpcId: null,
  method: 'notifications/message', subject: null, payload, truncated: false, size: payload.length, correlatedSeq: null, latencyMs: null,
  sseEventId: null, batchIndex: null, isError: false, errorCode: null, decodeError: null,
});

describe('RecorderClient', () => {
  it('keeps every message and cuts big payloads while the database thread is behind', async () => {
    const db = path.join(tmp.dir, 'rec.db');
    openDatabase(db, { create: true }).close();
    const warnings: string[] = [];
    // 64 KB may be in flight: a burst of 100 × 16 KB is far more than that.
    const rec = new RecorderClient(db, (w) => warnings.push(w), 1, 64 * 1024);
    rec.session(session);
    const big = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { data: 'x'.repeat(16_000) } });
    for (let seq = 1; seq <= 100; seq++) {
      rec.message(message(seq, big));
      // Let the 1 ms batch timer fire now and then, as live traffic does.
      if (seq % 10 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    expect(await rec.flush()).toBe(true);
    expect(await rec.close()).toBeNull();
    const store = CaptureStore.open(db, { readonly: true });
    try {
      const msgs = store.messages(session.id);
      expect(msgs.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      const cut = msgs.filter((m) => m.truncated);
      expect(rec.cut).toBe(cut.length);
      expect(cut.length).toBeGreaterThan(0);
      expect(cut.every((m) => m.payload.length === 4096 && big.startsWith(m.payload))).toBe(true);
      expect(msgs.filter((m) => !m.truncated).every((m) => m.payload === big)).toBe(true);
      expect(warnings[0]).toMatch(/behind the traffic/);
    } finally {
      store.close();
    }
  });
});
