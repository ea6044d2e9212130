import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { writeRecording } from '../src/store/jsonl.js';
import { connectClient, startSseServer, startStreamableServer, type Peer, type TransportKind } from './helpers/peers.js';

// Regenerates the reference recordings in recordings/ by capturing server-everything through the proxy:
// `npm run build && node dist/test/record-references.js`. (test/fixtures/recording-v1.jsonl was made by it
// in format version 1 and stays as it is; the current version's fixture comes from record-fault-fixture.ts.)

const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

export async function referenceScenario(c: Client): Promise<void> {
  await c.listTools();
  await c.callTool({ name: 'echo', arguments: { message: 'hello from the reference run' } });
  await c.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
  await c.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: () => {} });
  await c.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 5 } });
  const resources = await c.listResources();
  await c.readResource({ uri: resources.resources[0].uri });
  await c.listPrompts();
  await c.getPrompt({ name: 'simple-prompt' });
}

async function record(kind: TransportKind, peer: Peer, out: string[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-ref-'));
  const db = path.join(dir, 'ref.db');
  const proxy = await startProxy({ target: peer.url, port: 0, db, label: `reference ${kind}` });
  const url = proxy.url + (kind === 'sse' ? '/sse' : '/mcp');
  // A made-up key: the recording shows what redaction leaves of it.
  const c = await connectClient(kind, url, { name: 'mcptap-reference', headers: { authorization: 'Bearer sk-example-not-a-real-key-4242' } });
  await referenceScenario(c.client);
  await c.close();
  await proxy.close();
  const store = CaptureStore.open(db, { readonly: true });
  const session = store.listSessions().find((s) => s.transport === kind)!;
  for (const file of out) writeRecording(store, session.id, file);
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`${kind}: session ${session.id}, ${session.messageCount} messages → ${out.join(', ')}`);
}

const http = await startStreamableServer();
const sse = await startSseServer();
await record('streamable-http', http, [path.join(root, 'recordings/everything-streamable-http.jsonl')]);
await record('sse', sse, [path.join(root, 'recordings/everything-sse.jsonl')]);
await http.close();
await sse.close();
