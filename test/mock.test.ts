import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { startMock, type RunningMock } from '../src/replay/mock.js';
import type { Recording } from '../src/replay/recording.js';
import { loadDiffInput } from '../src/analysis/input.js';
import { diffSessions } from '../src/analysis/diff.js';
import type { RpcMessage } from '../src/model/model.js';
import { connectClient, startSseServer, startStreamableServer, type TransportKind } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// A session recorded from server-everything through the proxy, served back by `startMock` with no
// upstream: the SDK client must complete the same calls and get the same results over every transport.

interface Outcome {
  tools: string[];
  echo: unknown;
  progress: number[];
  longRun: unknown;
  sampled: unknown;
  prompt: unknown;
  resource: unknown;
}

/**
 * server-everything asks for the client's roots 350 ms after `initialized` and logs the answer; waiting
 * for that log keeps the message order the same in every run, so recordings can be compared.
 */
function rootsSynced(client: Client): Promise<void> {
  return new Promise((resolve) => client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    if (String(n.params.data).includes('Roots updated')) resolve();
  }));
}

async function scenario(client: Client): Promise<Outcome> {
  await rootsSynced(client);
  const tools = (await client.listTools()).tools.map((t) => t.name).sort();
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'from the recording' } });
  const progress: number[] = [];
  const longRun = await client.callTool(
    { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
    undefined,
    { onprogress: (p) => progress.push(p.progress) },
  );
  const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 5 } });
  const prompt = await client.getPrompt({ name: 'simple-prompt' });
  const resource = await client.readResource({ uri: 'demo://resource/static/document/architecture.md' });
  return { tools, echo, progress, longRun, sampled, prompt, resource };
}

const tmp = tempDb();
let mock: RunningMock;
let recording: Recording;
let original: Outcome;
/** The same scenario recorded over legacy SSE, served by a mock of its own. */
let sseRecording: Recording;
let sseMock: RunningMock;
const SPEED = 3;

/** Records the scenario through the proxy from server-everything, then stops the server. */
async function recordOriginal(kind: 'streamable-http' | 'sse'): Promise<{ recording: Recording; outcome: Outcome }> {
  const peer = kind === 'sse' ? await startSseServer() : await startStreamableServer();
  const label = `original-${kind}`;
  const proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, label, onWarning: () => {} });
  try {
    const c = await connectClient(kind, proxy.url + (kind === 'sse' ? '/sse' : '/mcp'));
    const outcome = await scenario(c.client);
    await c.close();
    await proxy.flush();
    return { recording: byLabel(label), outcome };
  } finally {
    await proxy.close();
    // No upstream from here on: the mock alone answers.
    await peer.close();
  }
}

function byLabel(label: string): Recording {
  const store = CaptureStore.open(tmp.db, { readonly: true });
  try {
    return loadDiffInput(store.listSessions().find((s) => s.label === label && s.transport !== 'http')!.id, store);
  } finally {
    store.close();
  }
}

beforeAll(async () => {
  const [http, sse] = await Promise.all([recordOriginal('streamable-http'), recordOriginal('sse')]);
  ({ recording, outcome: original } = http);
  sseRecording = sse.recording;
  mock = await startMock({ recording, port: 0, speed: SPEED });
  sseMock = await startMock({ recording: sseRecording, port: 0, speed: SPEED });
});

afterAll(async () => {
  await mock?.close();
  await sseMock?.close();
  tmp.cleanup();
});

const endpoints: Array<{ kind: TransportKind; at: (m: RunningMock) => string }> = [
  { kind: 'streamable-http', at: (m) => m.url + m.path },
  { kind: 'sse', at: (m) => m.url + '/sse' },
  { kind: 'websocket', at: (m) => m.url.replace('http', 'ws') + '/' },
];

describe.each(endpoints)('the SDK client against the mock over $kind', ({ kind, at }) => {
  let outcome: Outcome;
  let elapsedLongRun = 0;

  beforeAll(async () => {
    const c = await connectClient(kind, at(mock));
    try {
      outcome = await scenario(c.client);
      const t0 = performance.now();
      await c.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: () => {} });
      elapsedLongRun = performance.now() - t0;
    } finally {
      await c.close();
    }
  });

  it('completes the same calls with the same results', () => {
    expect(outcome.tools).toEqual(original.tools);
    expect(outcome.tools).toContain('echo');
    expect(outcome.echo).toEqual(original.echo);
    expect(outcome.longRun).toEqual(original.longRun);
    expect(outcome.sampled).toEqual(original.sampled);
    expect(outcome.prompt).toEqual(original.prompt);
    expect(outcome.resource).toEqual(original.resource);
  });

  it('replays progress under the client’s own token', () => {
    // The SDK client may drop the last progress callback when the result lands in the same read.
    expect(outcome.progress.length).toBeGreaterThanOrEqual(2);
    expect([1, 2, 3].slice(0, outcome.progress.length)).toEqual(outcome.progress);
  });

  it('keeps the recorded spacing of progress, scaled by the speed', () => {
    const call = recording.messages.find((m) => m.kind === 'request' && m.subject === 'trigger-long-running-operation')!;
    const res = recording.messages.find((m) => m.seq === call.correlatedSeq)!;
    const span = res.ts - call.ts;
    expect(span).toBeGreaterThanOrEqual(250);
    expect(elapsedLongRun).toBeGreaterThanOrEqual((span / SPEED) * 0.8);
  });
});

describe.each(['streamable-http', 'sse'] as const)('a %s session recorded against the mock', (kind) => {
  let reference: Recording;
  let again: Recording;

  beforeAll(async () => {
    reference = kind === 'sse' ? sseRecording : recording;
    const m = kind === 'sse' ? sseMock : mock;
    const label = `against-mock-${kind}`;
    const p = await startProxy({ target: m.url, port: 0, db: tmp.db, label, onWarning: () => {} });
    try {
      const c = await connectClient(kind, p.url + (kind === 'sse' ? '/sse' : m.path));
      await scenario(c.client);
      await c.close();
      await p.flush();
    } finally {
      await p.close();
    }
    again = byLabel(label);
  });

  it('says the same things in the same order as the original', () => {
    const shape = (m: RpcMessage) => `${m.direction} ${m.kind} ${m.method ?? ''} ${m.subject ?? ''} ${m.channel}`;
    expect(again.messages.map(shape)).toEqual(reference.messages.map(shape));
  });

  it('shows no differences in the diff against the original', () => {
    const report = diffSessions(reference, again);
    expect(report.verdict).toMatch(/^equivalent/);
    expect(report.equivalent).toBe(true);
  });
});

describe('requests the recording cannot answer', () => {
  it('answers an unmatched call with an error that names the closest recorded request', async () => {
    const c = await connectClient('streamable-http', mock.url + mock.path);
    try {
      const echoSeq = recording.messages.find((m) => m.kind === 'request' && m.subject === 'echo')!.seq;
      await expect(c.client.callTool({ name: 'echo', arguments: { message: 'never recorded' } }))
        .rejects.toThrow(new RegExp(`no recorded tools/call request matches .*never recorded.*closest recorded request: #${echoSeq} tools/call .*from the recording.*differs at arguments\\.message`));
      await expect(c.client.listResourceTemplates()).rejects.toThrow(/-32601.*no recorded resources\/templates\/list request.*closest recorded request: #\d+ resources\/\w+/);
      // A miss does not disturb the session: recorded calls still answer.
      expect(await c.client.callTool({ name: 'echo', arguments: { message: 'from the recording' } })).toEqual(original.echo);
    } finally {
      await c.close();
    }
  });

  it('rewrites ids to the client’s and reuses a call once every match is used', async () => {
    const post = (sid: string | null, body: unknown) => fetch(mock.url + mock.path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(sid ? { 'mcp-session-id': sid } : {}) },
      body: JSON.stringify(body),
    });
    const init = recording.messages.find((m) => m.method === 'initialize' && m.kind === 'request')!;
    const r0 = await post(null, { ...JSON.parse(init.payload), id: 'first' });
    const sid = r0.headers.get('mcp-session-id')!;
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    expect(sid).not.toBe(recording.session.mcpSessionId);
    expect(await r0.text()).toContain('"id":"first"');
    for (const id of ['x-1', 99]) {
      const r = await post(sid, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'from the recording' } } });
      const text = await r.text();
      expect(text).toContain(`"id":${JSON.stringify(id)}`);
      expect(text).toContain('Echo: from the recording');
    }
    expect((await post('no-such-session', { jsonrpc: '2.0', id: 1, method: 'tools/list' })).status).toBe(404);
    expect((await post(null, { jsonrpc: '2.0', id: 1, method: 'tools/list' })).status).toBe(400);
  });
});

describe('mcptap mock', () => {
  it('serves a .jsonl reference recording and prints where', async () => {
    const child = spawn(process.execPath, [path.resolve('dist/src/cli/main.js'), 'mock', 'recordings/everything-streamable-http.jsonl', '--port', '0', '--speed', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      const banner = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('Ctrl-C stops.')) resolve(out);
        });
        child.on('exit', (code) => reject(new Error(`mcptap mock exited ${code}: ${out}`)));
      });
      expect(banner).toMatch(/^mcptap mock serving session [0-9a-f]{12} \(streamable-http, mcp-servers\/everything, \d+ recorded requests\)/);
      const url = /claude mcp add --transport http mcptap-mock (\S+)/.exec(banner)![1];
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
      expect(banner).toContain(`claude mcp add --transport sse mcptap-mock ${url.replace(/\/mcp$/, '/sse')}`);
      const c = await connectClient('streamable-http', url);
      try {
        expect((await c.client.listTools()).tools.map((t) => t.name)).toContain('get-sum');
        expect(await c.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } })).toEqual({ content: [{ type: 'text', text: 'The sum of 2 and 40 is 42.' }] });
        await expect(c.client.callTool({ name: 'get-sum', arguments: { a: 1, b: 1 } })).rejects.toThrow(/closest recorded request: #8 tools\/call .*differs at arguments\.a, arguments\.b/);
      } finally {
        await c.close();
      }
    } finally {
      child.kill();
    }
  });
});
