import { afterAll, describe, expect, it } from 'vitest';
import { runChecks } from '../src/analysis/checks/engine.js';
import { loadDiffInput } from '../src/analysis/input.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { connectClient, startStreamableServer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// After Ctrl-C the findings blame the right side. The proxy stops during a long tool call of server-everything
// (trigger-long-running-operation) after three progress notifications came through: the call's missing answer is
// the proxy shutting down, not the server's fault (no error, no "look at the server's log").

const tmp = tempDb();
afterAll(() => tmp.cleanup());

describe('the proxy stopped during a long tool call', () => {
  it('is told as the proxy shutting down, with the progress that had arrived; no error', async () => {
    const server = await startStreamableServer();
    const proxy = await startProxy({ target: server.url, port: 0, db: tmp.db, onWarning: () => {} });
    let progress = 0;
    try {
      const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'claude-code' });
      const call = c.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 600, steps: 600 } }, undefined, {
        onprogress: () => void progress++, timeout: 600_000,
      }).catch(() => undefined);
      await until(() => progress >= 3, 'three progress notifications', 60_000);
      await proxy.close();
      // The client leaves too (the SDK would wait for the answer): closing it settles the call.
      await c.close().catch(() => undefined);
      await call;
    } finally {
      await server.close();
    }
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const s = store.listSessions().find((x) => x.transport === 'streamable-http')!;
      expect(s.endReason).toBe('proxy-stopped');
      const findings = runChecks(loadDiffInput(s.id, store));
      const text = findings.map((f) => `${f.severity} [${f.ruleId}] ${f.title} — ${f.fix}`).join('\n');
      expect(findings.filter((f) => f.severity === 'error'), text).toEqual([]);
      expect(text).not.toMatch(/server's log/);
      const told = findings.find((f) => f.ruleId === 'unanswered')!;
      expect(told.severity).toBe('info');
      expect(told.title).toMatch(/tools\/call trigger-long-running-operation \(id \d+\) was in flight when the proxy shut down \((\d+) progress notifications had arrived\)/);
      expect(Number(/\((\d+) progress/.exec(told.title)![1])).toBeGreaterThanOrEqual(3);
    } finally {
      store.close();
    }
  });
});
