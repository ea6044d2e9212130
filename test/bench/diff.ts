import type { RpcMessage, Session } from '../../src/model/model.js';
import { diffSessions, type DiffInput } from '../../src/analysis/diff.js';

// Two 10,000-message sessions of realistic shape (tools/call pairs with progress and log
// notifications), the second with a few calls inserted, failed and changed, diffed end to end.

function prng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function session(id: string, n: number, variant: boolean): DiffInput {
  const rand = prng(42);
  const s: Session = {
    id, label: id, transport: 'streamable-http', target: 'http://127.0.0.1:4000', mcpSessionId: id, protocolVersion: '2025-11-25',
    clientInfo: { name: 'bench' }, serverInfo: { name: 'bench-server', version: '1' }, clientCapabilities: {}, serverCapabilities: { tools: {} },
    startedAt: 0, endedAt: 1, endReason: null, messageCount: n, errorCount: 0, exchangeCount: 0,
  };
  const messages: RpcMessage[] = [];
  const tools = ['query', 'list_schemas', 'describe_table', 'explain', 'echo'];
  let seq = 1;
  let id0 = 1;
  const push = (m: Partial<RpcMessage>) => messages.push({
    sessionId: id, seq: seq++, exchangeId: null, ts: seq, direction: 'client->server', channel: 'request-body', kind: 'request', rpcId: null,
    method: null, subject: null, payload: '{}', truncated: false, size: 2, correlatedSeq: null, latencyMs: 1, sseEventId: null, batchIndex: null,
    isError: false, errorCode: null, decodeError: null, ...m,
  });
  while (messages.length < n) {
    const tool = tools[Math.floor(rand() * tools.length)];
    const rid = id0++;
    const sql = `select * from t${Math.floor(rand() * 50)}`;
    if (variant && rid % 2000 === 0) push({ method: 'tools/list', rpcId: 900000 + rid, payload: JSON.stringify({ jsonrpc: '2.0', id: 900000 + rid, method: 'tools/list' }) });
    const reqSeq = seq;
    push({ method: 'tools/call', subject: tool, rpcId: rid, payload: JSON.stringify({ jsonrpc: '2.0', id: rid, method: 'tools/call', params: { name: tool, arguments: { sql }, _meta: { progressToken: rid } } }) });
    if (rand() < 0.3) push({ direction: 'server->client', kind: 'notification', method: 'notifications/progress', channel: 'response-sse', payload: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: rid, progress: 1, total: 2 } }) });
    const fail = variant && rid % 1500 === 0;
    const text = variant && rid % 1100 === 0 ? 'changed rows' : `rows for ${sql}`;
    push({
      direction: 'server->client', kind: 'response', method: 'tools/call', subject: tool, rpcId: rid, channel: 'response-sse', correlatedSeq: reqSeq, isError: fail,
      payload: JSON.stringify({ jsonrpc: '2.0', id: rid, result: { content: [{ type: 'text', text: fail ? 'relation does not exist' : text }], ...(fail ? { isError: true } : {}) } }),
    });
    messages[reqSeq - 1].correlatedSeq = seq - 1;
  }
  return { session: s, messages: messages.slice(0, n), exchanges: [] };
}

export async function benchDiff(): Promise<Record<string, number>> {
  const a = session('bench-a', 10_000, false);
  const b = session('bench-b', 10_000, true);
  const t0 = performance.now();
  const r = diffSessions(a, b);
  const ms = performance.now() - t0;
  if (r.equivalent) throw new Error('bench sessions should differ');
  return { messages: 10_000, ms: Math.round(ms), 'target ms': 1000, outcomes: r.outcomes.length, changed: r.counts.changed, added: r.counts.added };
}
