import { afterAll, describe, expect, it } from 'vitest';
import { heldOne, holdingProxy, readStored, resultText as text } from './helpers/hold.js';
import { connectClient, startPlainToolsServer, startSseServer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { rewriteText } from '../src/model/facts.js';

// --hold where the last stop left it refused or untouched: a server's plain application/json answer
// (the SDK's enableJsonResponse), and answering by hand over legacy SSE. Real SDK peers, real sockets.

const tmp = tempDb();
const open: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const o of open.reverse()) await o.close();
  tmp.cleanup();
});




describe('proxy --hold: a plain application/json answer (Streamable HTTP with enableJsonResponse)', () => {
  it('holds the answer (named after its request); forwards it as it came, edited, or drops it', async () => {
    const server = await startPlainToolsServer({ jsonResponse: true });
    open.push(server);
    const { proxy, gate } = await holdingProxy(server.url, 'dir:s2c tool:query', tmp.db, 'hold-json', open);
    const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'hold-json' });
    try {
      // Other answers are not held.
      expect(text(await c.client.callTool({ name: 'echo', arguments: { message: 'free' } }))).toBe('Echo: free');
      expect(gate.held()).toEqual([]);
      const asIs = c.client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
      let h = await heldOne(gate);
      expect(h).toMatchObject({ direction: 'server->client', method: 'tools/call', subject: 'query' });
      expect(JSON.parse(h.body).result.content[0].text).toBe('1 row for: select 1');
      gate.forward(h.id);
      expect(text(await asIs)).toBe('1 row for: select 1');

      const edited = c.client.callTool({ name: 'query', arguments: { sql: 'select 2' } });
      h = await heldOne(gate);
      const body = JSON.parse(h.body);
      body.result.content[0].text = 'a longer answer, edited on its way back to the client';
      gate.forward(h.id, JSON.stringify(body));
      expect(text(await edited)).toBe('a longer answer, edited on its way back to the client');

      const dropped = c.client.callTool({ name: 'query', arguments: { sql: 'select 3' } });
      gate.drop((await heldOne(gate)).id);
      await expect(dropped).rejects.toThrow(/dropped at the intercept/);
      // The session goes on.
      expect(text(await c.client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe('Echo: after');
    } finally {
      await c.close();
    }
    await proxy.flush();
    const rewrites = readStored(tmp.db, (s) => {
      const session = s.listSessions().find((x) => x.clientInfo?.name === 'hold-json')!;
      return s.exchanges(session.id).flatMap((e) => e.rewrites);
    });
    // The edit is labelled as the server's, the drop has its own kind (it was 'other').
    expect(rewrites.map((r) => r.kind)).toEqual(['intercept-server-edit', 'intercept-drop']);
    expect(rewriteText(rewrites[0])).toMatch(/^server message edited at the intercept: /);
    expect(JSON.parse(rewrites[0].before!).result.content[0].text).toBe('1 row for: select 2');
    expect(JSON.parse(rewrites[0].after).result.content[0].text).toMatch(/edited on its way back/);
    expect(rewrites[1].after).toMatch(/dropped at the intercept/);
  });
});

describe('proxy --hold: answering by hand over legacy SSE', () => {
  it('sends the answer on the client\'s event stream as the server would, and the POST gets 202', async () => {
    const sse = await startSseServer();
    open.push(sse);
    const { proxy, gate } = await holdingProxy(sse.url, 'tool:echo', tmp.db, 'hold-sse-answer', open);
    const c = await connectClient('sse', proxy.url + '/sse', { name: 'hold-sse-answer' });
    try {
      const call = c.client.callTool({ name: 'echo', arguments: { message: 'x' } });
      let h = await heldOne(gate);
      expect(h.noAnswer).toBeNull();
      gate.answer(h.id, JSON.stringify({ result: { content: [{ type: 'text', text: 'answered on the stream' }] } }));
      expect(text(await call)).toBe('answered on the stream');
      const failed = c.client.callTool({ name: 'echo', arguments: { message: 'y' } });
      h = await heldOne(gate);
      gate.answer(h.id, JSON.stringify({ error: { code: -32000, message: 'refused by hand' } }));
      await expect(failed).rejects.toThrow(/refused by hand/);
      // The server never saw either call; later ones go through to it.
      expect((await c.client.listTools()).tools.length).toBeGreaterThan(3);
    } finally {
      await c.close();
    }
    await proxy.flush();
    const { answers, kinds } = readStored(tmp.db, (s) => {
      const session = s.listSessions().find((x) => x.clientInfo?.name === 'hold-sse-answer')!;
      return {
        answers: s.messages(session.id).filter((m) => m.direction === 'server->client' && m.method === 'tools/call').map((m) => m.kind),
        kinds: s.exchanges(session.id).flatMap((e) => e.rewrites).map((r) => r.kind),
      };
    });
    expect(answers).toEqual(['response', 'error']);
    expect(kinds).toEqual(['intercept-answer', 'intercept-answer']);
  });
});
