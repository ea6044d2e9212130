import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CaptureHub } from '../../src/capture/hub.js';
import { ConversationTracker } from '../../src/capture/conversations.js';
import { ModelTurnCapture } from '../../src/capture/model-exchange.js';
import { Redactor } from '../../src/capture/redact.js';
import type { Exchange } from '../../src/model/model.js';
import { startProxy } from '../../src/proxy/server.js';
import { listen } from '../helpers/peers.js';
import { CaptureStore } from '../../src/store/read.js';
import { TurnReader } from '../../src/store/turns-read.js';
import { conversationLines, conversationJson } from '../../src/cli/conversation-format.js';
import { readRun } from '../helpers/claude-fixtures.js';
import { openDatabase } from '../../src/store/db.js';
import { RecorderClient } from '../../src/store/recorder-client.js';

// A Claude Code turn as sent: the fixture's request with its elided texts put back to full size
// (about 90 KB), and the model's SSE answer with a tool use.

function fullRequest(): { body: Record<string, any>; answer: string } {
  const [first] = readRun('echo-http', 'model');
  const text = first.requestBody.replace(/\[text elided from the fixture: (\d+) characters\]/g, (_m, n) => 'Claude Code instructions. '.repeat(Math.ceil(Number(n) / 26)).slice(0, Number(n)));
  return { body: JSON.parse(text), answer: first.responseBody! };
}

function exchange(i: number): Exchange {
  return {
    id: 'bench' + i, sessionId: null, kind: 'http', method: 'POST', url: '/v1/messages?beta=true', upstreamUrl: '', status: 200,
    requestHeaders: [['x-claude-code-session-id', 'bench']], responseHeaders: [], startedAt: i, firstByteAt: i, endedAt: i + 1,
    requestBytes: 0, responseBytes: 0, requestBody: null, responseBody: null, requestTruncated: false, responseTruncated: false,
    failure: null, aborted: false, rewrites: [], clientAddress: null, closedBy: null,
  };
}

/** Capture of turn `i` of one conversation on `hub`: the request decoded, then the SSE answer in two chunks. */
function turnCapture(hub: CaptureHub): { text: string; one: (i: number) => void } {
  const { body, answer } = fullRequest();
  const text = JSON.stringify(body);
  const chunks = [Buffer.from(answer.slice(0, 400)), Buffer.from(answer.slice(400))];
  const redactor = new Redactor(true);
  const conversations = new ConversationTracker(hub, { target: 'bench', label: null, scrub: (t) => redactor.text(t) });
  const one = (i: number) => {
    const ex = exchange(i);
    const cap = ModelTurnCapture.start(conversations, ex, 'anthropic-messages', text, text)!;
    conversations.assign(ex, ex.requestHeaders, cap.request, 'bench');
    cap.head('text/event-stream');
    for (const c of chunks) cap.chunk(c);
    cap.end(i + 1);
  };
  return { text, one };
}

/** Capture-side CPU of one turn: request decode, blob hashing, the stored body rebuilt, the SSE answer decoded. */
export function decodeCpu(): { requestKb: number; microsPerTurn: number } {
  const { text, one } = turnCapture(new CaptureHub());
  for (let i = 0; i < 50; i++) one(i);
  const N = 400;
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) one(i);
  const d = process.cpuUsage(t0);
  return { requestKb: Math.round(Buffer.byteLength(text) / 1024), microsPerTurn: Math.round((d.user + d.system) / N) };
}

/**
 * The same turns with the proxy's recorder attached: the proxy thread's time per turn, decode and the
 * hand-off of the turn and its blobs to the database thread included.
 */
export async function recordedTurnCpu(): Promise<{ microsPerTurn: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-turn-'));
  const file = path.join(dir, 'captures.db');
  openDatabase(file, { create: true }).close();
  const hub = new CaptureHub();
  const rec = new RecorderClient(file, () => {});
  hub.on('session', (s) => rec.session(s));
  hub.on('turn', (t) => rec.turn(t));
  hub.on('blob', (b) => rec.blob(b));
  const { one } = turnCapture(hub);
  for (let i = 0; i < 50; i++) one(i);
  await rec.flush();
  const N = 400;
  // The proxy thread's part, timed alone: ten turns decoded, then the batch packed and posted (what the
  // recorder's timer does); the database thread's write is awaited outside the timing.
  const send = () => (rec as unknown as { send(): void }).send();
  let ms = 0;
  for (let i = 0; i < N; i += 10) {
    const t0 = performance.now();
    for (let j = i; j < i + 10; j++) one(j);
    send();
    ms += performance.now() - t0;
    await rec.flush();
  }
  await rec.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { microsPerTurn: Math.round((ms * 1000) / N) };
}

/** 500 turns of one conversation through the proxy into SQLite; the store's size beyond the message text; show's time. */
async function conversationStorage(turns: number): Promise<{ dbMb: number; messageTextMb: number; beyondMb: number; showMs: number; showJsonMs: number; processMs: number; startMs: number }> {
  const { body, answer } = fullRequest();
  const upstream = await listen(http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(answer));
  }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-model-'));
  const db = path.join(dir, 'captures.db');
  const proxy = await startProxy({ target: `http://127.0.0.1:${upstream.port}`, port: 0, db, onWarning: () => {} });
  const messages: unknown[] = [...body.messages];
  let messageText = 0;
  try {
    for (let i = 0; i < turns; i++) {
      messages.push({ role: 'assistant', content: [{ type: 'tool_use', id: `toolu_${i}`, name: 'mcp__srv__echo', input: { message: `call ${i}` } }] });
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${i}`, content: [{ type: 'text', text: `Echo: call ${i}` }] }] });
      const text = JSON.stringify({ ...body, messages });
      messageText += Buffer.byteLength(JSON.stringify(messages));
      const r = await fetch(proxy.url + '/v1/messages?beta=true', { method: 'POST', headers: { 'content-type': 'application/json', 'x-claude-code-session-id': 'bench' }, body: text });
      await r.text();
    }
  } finally {
    await proxy.close();
    await upstream.close();
  }
  const size = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  const cli = path.resolve('dist/src/cli/main.js');
  const list = JSON.parse(spawnSync(process.execPath, [cli, 'sessions', '--json', '--db', db], { encoding: 'utf8' }).stdout);
  const id = list.find((s: { transport: string }) => s.transport === 'model-api').id;
  // What show does (open, read the turns, join them to MCP calls, render), in this process: best of three.
  const inProcess = (json: boolean) => {
    const t0 = performance.now();
    const store = CaptureStore.open(db, { readonly: true });
    const c = new TurnReader(store).conversation(store.getSession(id)!);
    if (json) JSON.stringify(conversationJson(c));
    else conversationLines(c, 120).join('\n');
    store.close();
    return performance.now() - t0;
  };
  const best = (f: () => number) => Math.min(f(), f(), f());
  const showMs = best(() => inProcess(false));
  const showJsonMs = best(() => inProcess(true));
  // And what a person waits for at the prompt, node's start included (`mcptap --version` alone is that start).
  const spawnMs = (...args: string[]) => () => {
    const t0 = performance.now();
    spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    return performance.now() - t0;
  };
  const processMs = best(spawnMs('show', id, '--db', db));
  const startMs = best(spawnMs('--version'));
  fs.rmSync(dir, { recursive: true, force: true });
  const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
  return { dbMb: mb(size), messageTextMb: mb(messageText), beyondMb: mb(size - messageText), showMs: Math.round(showMs), showJsonMs: Math.round(showJsonMs), processMs: Math.round(processMs), startMs: Math.round(startMs) };
}

export async function benchModelApi(): Promise<string[]> {
  const d = decodeCpu();
  const r = await recordedTurnCpu();
  const s = await conversationStorage(500);
  const ok = (b: boolean) => (b ? 'ok' : 'MISSED');
  return [
    `model API: a ${d.requestKb} KB Claude Code request and its SSE answer decoded in ${(d.microsPerTurn / 1000).toFixed(2)} ms CPU per turn (target ≤ 1 ms: ${ok(d.microsPerTurn <= 1000)})`,
    `model API: the same turn with the recorder attached (decode and the hand-off to the database thread): ${(r.microsPerTurn / 1000).toFixed(2)} ms of the proxy thread per turn`,
    `model API: a 500-turn conversation through the proxy: database ${s.dbMb} MB, of which message text ${s.messageTextMb} MB, beyond it ${s.beyondMb} MB (target < 5 MB: ${ok(s.beyondMb < 5)}); show's work ${s.showMs} ms (target < 300 ms: ${ok(s.showMs < 300)}), --json ${s.showJsonMs} ms; the whole command ${s.processMs} ms, of which node and mcptap starting ${s.startMs} ms`,
  ];
}
