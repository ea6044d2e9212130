import { afterAll, describe, expect, it } from 'vitest';
import { runChecks } from '../src/analysis/checks/engine.js';
import { loadDiffInput } from '../src/analysis/input.js';
import { startProxy } from '../src/proxy/server.js';
import { CaptureStore } from '../src/store/read.js';
import { CLAUDE_CODE_UA, discoverProbe } from './helpers/check-scenarios.js';
import { connectClient, echoServer, startStreamableServer } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';

// The sessions list's ERR counts what check counts. A healthy Claude Code session starts with a server/discover
// probe that a 2025 server refuses (HTTP 400 and a JSON-RPC error); the client falls back to initialize and works.
// That refusal is how the fallback works: no error in the session's count, no finding.

const tmp = tempDb();
afterAll(() => tmp.cleanup());

describe('the session error count', () => {
  it('a refused probe the client recovered from is no error; a real error still counts', async () => {
    const server = await startStreamableServer({ factory: echoServer });
    const proxy = await startProxy({ target: server.url, port: 0, db: tmp.db, onWarning: () => {} });
    try {
      expect(await discoverProbe(proxy.url + '/mcp')).toBe(400);
      const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: 'claude-code', headers: { 'user-agent': CLAUDE_CODE_UA } });
      await c.client.listTools();
      await c.client.callTool({ name: 'echo', arguments: { message: 'ok' } });
      await c.client.callTool({ name: 'no-such-tool', arguments: {} }).catch(() => undefined);
      await c.close();
    } finally {
      await proxy.close();
      await server.close();
    }
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const [s] = store.listSessions();
      expect(store.listSessions()).toHaveLength(1);
      const findings = runChecks(loadDiffInput(s.id, store));
      // The unknown tool is the one error both count; the probe is neither's.
      expect(findings.filter((f) => f.severity === 'error').map((f) => f.ruleId)).toEqual(['unknown-tool']);
      expect(s.errorCount).toBe(1);
    } finally {
      store.close();
    }
  });
});
