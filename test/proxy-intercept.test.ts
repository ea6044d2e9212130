import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { Interceptor } from '../src/proxy/intercept.js';
import { CaptureStore } from '../src/store/read.js';
import { rewriteText } from '../src/model/facts.js';
import { connectClient, startPlainToolsServer, startSseServer, startWsServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// --hold between a real SDK client and a real SDK server: a matching tools/call is held, and then
// forwarded as it was, forwarded edited, answered in the server's place, or dropped; nothing else waits.

const tmp = tempDb();
let tools: Peer;
let sse: Peer;
let ws: Peer;
let proxy: RunningProxy;
const interceptor = new Interceptor('method:tools/call tool:query');

beforeAll(async () => {
  tools = await startPlainToolsServer();
  proxy = await startProxy({ target: tools.url, port: 0, db: tmp.db, label: 'intercept', interceptor, onWarning: () => {} });
});

afterAll(async () => {
  interceptor.releaseAll();
  await proxy.close();
  await tools.close();
  await sse?.close();
  await ws?.close();
  tmp.cleanup();
});

/** The one message held now, once it is held. */
async function held() {
  await until(() => interceptor.held().length === 1, 'a held message');
  return interceptor.held()[0];
}
const text = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0].text;

describe('proxy --hold', () => {
  it('holds a matching call until forwarded, and lets everything else through at once', async () => {
    const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'intercept-test' });
    try {
      // tools/list and another tool's call match nothing: answered with nothing held.
      expect((await c.client.listTools()).tools.length).toBe(3);
      expect(text(await c.client.callTool({ name: 'echo', arguments: { message: 'free' } }))).toBe('Echo: free');
      expect(interceptor.held()).toEqual([]);
      let settled = false;
      const call = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } }).finally(() => (settled = true));
      const h = await held();
      expect(h).toMatchObject({ method: 'tools/call', subject: 'query', route: '' });
      expect(JSON.parse(h.body).params.arguments).toEqual({ sql: 'select 1' });
      // While held, other calls still go through.
      expect(text(await c.client.callTool({ name: 'echo', arguments: { message: 'meanwhile' } }))).toBe('Echo: meanwhile');
      expect(settled).toBe(false);
      interceptor.forward(h.id);
      expect(text(await call)).toBe('1 row for: select 1');
    } finally {
      await c.close();
    }
  });

  it('forwards an edit (validated), recorded as a transform with before and after', async () => {
    const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'intercept-edit' });
    try {
      const call = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
      const h = await held();
      expect(() => interceptor.forward(h.id, '{"method": ')).toThrow(/not JSON/);
      expect(interceptor.held()).toHaveLength(1);
      const edited = JSON.parse(h.body);
      edited.params.arguments.sql = 'select 2';
      interceptor.forward(h.id, JSON.stringify(edited));
      expect(text(await call)).toBe('1 row for: select 2');
    } finally {
      await c.close();
    }
    await proxy.flush();
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const s = store.listSessions().find((x) => x.clientInfo?.name === 'intercept-edit')!;
      const rewrites = store.exchanges(s.id).flatMap((e) => e.rewrites);
      expect(rewrites).toHaveLength(1);
      expect(rewrites[0].kind).toBe('intercept-edit');
      expect(JSON.parse(rewrites[0].before!).params.arguments.sql).toBe('select 1');
      expect(JSON.parse(rewrites[0].after).params.arguments.sql).toBe('select 2');
      expect(rewriteText(rewrites[0])).toMatch(/^client message edited at the intercept: /);
    } finally {
      store.close();
    }
  });

  it('answers in the server\'s place (result or error), and the client takes it as the server\'s', async () => {
    const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'intercept-answer' });
    try {
      const ok = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
      let h = await held();
      expect(() => interceptor.answer(h.id, '{"nope": 1}')).toThrow(/result .* or error/);
      interceptor.answer(h.id, JSON.stringify({ result: { content: [{ type: 'text', text: 'answered by hand' }] } }));
      expect(text(await ok)).toBe('answered by hand');
      const failed = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
      h = await held();
      interceptor.answer(h.id, JSON.stringify({ error: { code: -32000, message: 'refused by hand' } }));
      await expect(failed).rejects.toThrow(/refused by hand/);
    } finally {
      await c.close();
    }
    await proxy.flush();
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const s = store.listSessions().find((x) => x.clientInfo?.name === 'intercept-answer')!;
      const answers = store.messages(s.id).filter((m) => m.direction === 'server->client' && m.method === 'tools/call');
      expect(answers.map((m) => m.kind)).toEqual(['response', 'error']);
      expect(store.exchanges(s.id).flatMap((e) => e.rewrites).map((r) => r.kind)).toEqual(['intercept-answer', 'intercept-answer']);
    } finally {
      store.close();
    }
  });

  it('drops: the client gets an HTTP error, the capture says it was dropped', async () => {
    const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'intercept-drop' });
    try {
      const call = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
      interceptor.drop((await held()).id);
      await expect(call).rejects.toThrow(/dropped at the intercept/);
    } finally {
      await c.close();
    }
    await proxy.flush();
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const s = store.listSessions().find((x) => x.clientInfo?.name === 'intercept-drop')!;
      const dropped = store.exchanges(s.id).find((e) => e.status === 502)!;
      expect(dropped.failure).toEqual({ kind: 'other', detail: 'dropped at the intercept' });
    } finally {
      store.close();
    }
  });

  it('holds a legacy SSE client\'s POST too', async () => {
    sse = await startSseServer();
    const legacy = new Interceptor('tool:echo');
    const p = await startProxy({ target: sse.url, port: 0, db: null, interceptor: legacy, onWarning: () => {} });
    const c = await connectClient('sse', p.url + '/sse', { name: 'intercept-sse' });
    try {
      const call = c.client.callTool({ name: 'echo', arguments: { message: 'x' } });
      await until(() => legacy.held().length === 1, 'the held POST');
      const h = legacy.held()[0];
      // Answering by hand over legacy SSE: test/proxy-hold-answers.test.ts.
      expect(h.noAnswer).toBeNull();
      legacy.forward(h.id);
      expect(text(await call)).toBe('Echo: x');
    } finally {
      await c.close();
      await p.close();
    }
    // dir:s2c: the answer event on the legacy stream (after the endpoint event the proxy rewrites).
    const answers = new Interceptor('dir:s2c tool:echo');
    const p2 = await startProxy({ target: sse.url, port: 0, db: null, interceptor: answers, onWarning: () => {} });
    const c2 = await connectClient('sse', p2.url + '/sse', { name: 'intercept-sse-s2c' });
    try {
      const call = c2.client.callTool({ name: 'echo', arguments: { message: 'y' } });
      await until(() => answers.held().length === 1, 'the held answer event');
      const h = answers.held()[0];
      expect(h).toMatchObject({ direction: 'server->client', method: 'tools/call', subject: 'echo' });
      const edited = JSON.parse(h.body);
      edited.result.content[0].text = 'Echo: edited on the stream';
      answers.forward(h.id, JSON.stringify(edited));
      expect(text(await call)).toBe('Echo: edited on the stream');
    } finally {
      await c2.close();
      await p2.close();
    }
  });

  it('takes a held message off the list when its client gives up', async () => {
    const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'intercept-gone' });
    const ac = new AbortController();
    const call = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } }, undefined, { signal: ac.signal });
    await held();
    ac.abort();
    await expect(call).rejects.toThrow();
    await c.close();
    await until(() => interceptor.held().length === 0, 'the held list to empty');
  });

  it('holds a WebSocket client\'s frame, and the frames after it behind it; forwards, forwards edited, drops', async () => {
    ws = await startWsServer();
    const gate = new Interceptor('tool:echo');
    const p = await startProxy({ target: ws.url, port: 0, db: tmp.db, label: 'intercept-ws', interceptor: gate, onWarning: () => {} });
    const c = await connectClient('websocket', p.url.replace(/^http/, 'ws') + '/', { name: 'intercept-ws' });
    const waitHeld = async () => {
      await until(() => gate.held().length === 1, 'a held frame');
      return gate.held()[0];
    };
    try {
      const first = c.client.callTool({ name: 'echo', arguments: { message: 'one' } });
      let h = await waitHeld();
      // Answering by hand over a WebSocket: test/proxy-hold-ws.test.ts.
      expect(h.noAnswer).toBeNull();
      // A frame sent after the held one waits behind it: the server sees them in order.
      let listed = false;
      const list = c.client.listTools().then((r) => ((listed = true), r));
      await new Promise((r) => setImmediate(r));
      expect(listed).toBe(false);
      gate.forward(h.id);
      expect(text(await first)).toBe('Echo: one');
      expect((await list).tools.length).toBeGreaterThan(3);
      const second = c.client.callTool({ name: 'echo', arguments: { message: 'two' } });
      h = await waitHeld();
      const edited = JSON.parse(h.body);
      edited.params.arguments.message = 'edited';
      gate.forward(h.id, JSON.stringify(edited));
      expect(text(await second)).toBe('Echo: edited');
      // Dropped: the server never sees it, so no answer comes (the client's own timeout ends the wait).
      const third = c.client.callTool({ name: 'echo', arguments: { message: 'three' } }, undefined, { timeout: 1000 });
      gate.drop((await waitHeld()).id);
      await expect(third).rejects.toThrow(/timed out/i);
      expect(text(await c.client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }))).toMatch(/3/);
    } finally {
      await c.close();
      await p.close();
    }
    // dir:s2c: the server's answer frame is held, and goes on edited.
    const answers = new Interceptor('dir:s2c tool:echo');
    const p2 = await startProxy({ target: ws.url, port: 0, db: null, interceptor: answers, onWarning: () => {} });
    const c2 = await connectClient('websocket', p2.url.replace(/^http/, 'ws') + '/', { name: 'intercept-ws-s2c' });
    try {
      const call = c2.client.callTool({ name: 'echo', arguments: { message: 'back' } });
      await until(() => answers.held().length === 1, 'the held answer frame');
      const h = answers.held()[0];
      expect(h).toMatchObject({ direction: 'server->client', method: 'tools/call', subject: 'echo' });
      const edited = JSON.parse(h.body);
      edited.result.content[0].text = 'Echo: changed';
      answers.forward(h.id, JSON.stringify(edited));
      expect(text(await call)).toBe('Echo: changed');
    } finally {
      await c2.close();
      await p2.close();
    }
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const s = store.listSessions().find((x) => x.label === 'intercept-ws' && x.transport === 'websocket')!;
      const rewrites = store.exchanges(s.id).flatMap((e) => e.rewrites);
      // The client's frame edited (the dir:s2c proxy records nothing).
      expect(rewrites.map((r) => r.kind)).toEqual(['intercept-edit']);
      expect(rewriteText(rewrites[0])).toMatch(/^client message edited at the intercept: /);
    } finally {
      store.close();
    }
  });

  it('with dir:s2c holds the server\'s answer event (named after its request); forwards it edited, or drops it', async () => {
    const answers = new Interceptor('dir:s2c tool:query');
    const p = await startProxy({ target: tools.url, port: 0, db: tmp.db, label: 'intercept-s2c', interceptor: answers, onWarning: () => {} });
    const c = await connectClient('streamable-http', p.url + '/mcp', { name: 'intercept-s2c' });
    const waitHeld = async () => {
      await until(() => answers.held().length === 1, 'a held answer');
      return answers.held()[0];
    };
    try {
      // The request itself is not held, and other answers are not either.
      expect(text(await c.client.callTool({ name: 'echo', arguments: { message: 'free' } }))).toBe('Echo: free');
      const call = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
      const h = await waitHeld();
      expect(h).toMatchObject({ direction: 'server->client', method: 'tools/call', subject: 'query' });
      expect(() => answers.answer(h.id, '{"result": {}}')).toThrow(/server message/);
      const edited = JSON.parse(h.body);
      edited.result.content[0].text = 'edited on its way back';
      answers.forward(h.id, JSON.stringify(edited));
      expect(text(await call)).toBe('edited on its way back');
      const dropped = c.client.callTool({ name: 'query', arguments: { sql: 'select 2' } }, undefined, { timeout: 1000 });
      answers.drop((await waitHeld()).id);
      await expect(dropped).rejects.toThrow(/timed out/i);
    } finally {
      await c.close();
      await p.close();
    }
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const s = store.listSessions().find((x) => x.label === 'intercept-s2c' && x.transport === 'streamable-http')!;
      const [r] = store.exchanges(s.id).flatMap((e) => e.rewrites);
      expect(r.kind).toBe('intercept-server-edit');
      expect(rewriteText(r)).toMatch(/^server message edited at the intercept: /);
      expect(JSON.parse(r.after).result.content[0].text).toBe('edited on its way back');
    } finally {
      store.close();
    }
  });
});
