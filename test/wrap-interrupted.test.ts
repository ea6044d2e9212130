import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChecks } from '../src/analysis/checks/engine.js';
import { loadDiffInput } from '../src/analysis/input.js';
import { CaptureStore } from '../src/store/read.js';
import { tempDb, until } from './helpers/tmp.js';

// `mcptap wrap` interrupted (Ctrl-C reaches wrap, which forwards SIGINT to the stdio server) with a call in flight:
// the server ended because mcptap passed the signal on, not "ended by the server"; no error blames it.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const server = path.resolve('dist/test/helpers/stdio-server.js');
afterAll(() => tmp.cleanup());

describe('wrap interrupted', () => {
  it('is the signal mcptap forwarded, not the server ending the stream', async () => {
    const wrap = spawn(process.execPath, [cli, 'wrap', '--db', tmp.db, '--', process.execPath, server], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    wrap.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const send = (m: object) => wrap.stdin!.write(JSON.stringify(m) + '\n');
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'interrupted', version: '1' } } });
    await until(() => out.includes('"id":1'), 'the initialize answer', 60_000);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    // Answered only once stdin ends: still in flight when the signal comes.
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'after-client-left', arguments: {} } });
    // A ping after it: its answer means the server has read the call, which now waits.
    send({ jsonrpc: '2.0', id: 3, method: 'ping' });
    await until(() => out.includes('"id":3'), 'the ping answer', 60_000);
    const exited = new Promise<number | null>((r) => wrap.once('exit', (code) => r(code)));
    wrap.kill('SIGINT');
    await exited;
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const s = store.listSessions().find((x) => x.transport === 'stdio')!;
      expect(s.endReason).toBe('proxy-stopped');
      const findings = runChecks(loadDiffInput(s.id, store));
      const text = findings.map((f) => `${f.severity} [${f.ruleId}] ${f.title}`).join('\n');
      expect(text).not.toMatch(/ended by the server/);
      expect(findings.filter((f) => f.severity === 'error'), text).toEqual([]);
    } finally {
      store.close();
    }
  });
});
