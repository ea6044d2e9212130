import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RpcMessage, Session } from '../../src/model/model.js';
import type { Turn } from '../../src/capture/turn.js';
import { openDatabase } from '../../src/store/db.js';
import { Recorder } from '../../src/store/recorder.js';
import { CaptureStore } from '../../src/store/read.js';
import { TurnReader } from '../../src/store/turns-read.js';

// Opening a conversation (its tool uses joined to MCP calls) and an MCP session (the calls a turn
// caused) in a database where many MCP sessions overlap the conversation in time: one conversation of
// `turns` turns, each asking for one tool, and `sessions` MCP sessions over the same hour, each with
// `calls` tools/call requests (one session's calls are the conversation's, by tool-use id).

function session(id: string, transport: Session['transport'], startedAt: number): Session {
  return {
    id, label: null, transport, target: 'http://127.0.0.1:1', mcpSessionId: null, protocolVersion: null, clientInfo: null,
    serverInfo: null, clientCapabilities: null, serverCapabilities: null, startedAt, endedAt: null, endReason: null,
    messageCount: 0, errorCount: 0, exchangeCount: 0,
  };
}

function message(sessionId: string, seq: number, ts: number, kind: 'request' | 'response', payload: string, correlatedSeq: number | null): RpcMessage {
  return {
    sessionId, seq, exchangeId: null, ts, direction: kind === 'request' ? 'client->server' : 'server->client', channel: 'request-body', kind,
    rpcId: seq, method: kind === 'request' ? 'tools/call' : null, subject: null, payload, truncated: false, size: payload.length,
    correlatedSeq, latencyMs: null, sseEventId: null, batchIndex: null, isError: false, errorCode: null, decodeError: null,
  };
}

function turn(sessionId: string, seq: number, ts: number): Turn {
  return {
    sessionId, seq, exchangeId: 'ex' + seq, ts, endedAt: ts + 500, api: 'anthropic-messages', model: 'm', stream: true, status: 200,
    toolsHash: null, systemHash: null, toolNamesHash: null, stopReason: 'tool_use', usage: null, error: null, text: '', messageCount: seq * 2,
    toolUses: [{ id: `toolu_${seq}`, name: 'mcp__srv__echo', input: { message: `call ${seq}` }, inputText: `{"message":"call ${seq}"}`, kind: 'tool_use', serverLabel: null }],
    toolResults: [], serverResults: [], mcpListings: [], mcpServers: [],
  };
}

function build(file: string, turns: number, sessions: number, calls: number): void {
  const db = openDatabase(file, { create: true });
  const rec = new Recorder(db);
  const t0 = 1_700_000_000_000;
  const span = 3_600_000;
  rec.session(session('conversation', 'model-api', t0));
  for (let i = 1; i <= turns; i++) rec.turn(turn('conversation', i, t0 + ((i - 1) * span) / turns));
  for (let s = 0; s < sessions; s++) {
    const id = 'mcp' + String(s).padStart(9, '0');
    rec.session(session(id, 'streamable-http', t0 - 1000));
    for (let c = 0; c < calls; c++) {
      const i = Math.floor((c * turns) / calls) + 1;
      const ts = t0 + ((i - 1) * span) / turns + 600 + s;
      const meta = s === 0 ? `,"_meta":{"claudecode/toolUseId":"toolu_${i}"}` : '';
      rec.message(message(id, c * 2 + 1, ts, 'request', `{"jsonrpc":"2.0","id":${c},"method":"tools/call","params":{"name":"echo","arguments":{"message":"other ${c}"}${meta}}}`, c * 2 + 2));
      rec.message(message(id, c * 2 + 2, ts + 5, 'response', `{"jsonrpc":"2.0","id":${c},"result":{"content":[{"type":"text","text":"Echo ${c}"}]}}`, c * 2 + 1));
    }
    if (s % 20 === 0) rec.flush();
  }
  if (!rec.close()) throw new Error('links bench: the database refused records');
  db.close();
}

export function benchLinks(turns = 200, sessions = 200, calls = 50): Record<string, number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-links-'));
  const file = path.join(dir, 'links.db');
  const b0 = performance.now();
  build(file, turns, sessions, calls);
  const buildMs = performance.now() - b0;
  const time = (f: (r: TurnReader, store: CaptureStore) => number) => {
    let best = Infinity;
    let n = 0;
    for (let i = 0; i < 3; i++) {
      const store = CaptureStore.open(file, { readonly: true });
      const t = performance.now();
      n = f(new TurnReader(store), store);
      best = Math.min(best, performance.now() - t);
      store.close();
    }
    return { ms: Math.round(best * 10) / 10, n };
  };
  const conv = time((r, s) => r.conversation(s.getSession('conversation')!).turns.filter((t) => t.toolUses[0]?.mcpCall).length);
  const caused = time((r, s) => r.causedCalls(s.getSession('mcp000000000')!).size);
  fs.rmSync(dir, { recursive: true, force: true });
  return { turns, sessions, callsPerSession: calls, buildMs: Math.round(buildMs), conversationMs: conv.ms, linked: conv.n, causedCallsMs: caused.ms, caused: caused.n };
}
