import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CaptureStore } from '../../src/store/read.js';
import { tempDb } from '../helpers/tmp.js';
import { HERE, OFFLINE_ENV, venvProgram } from './peers.js';

// `mcptap wrap` in front of a real Python stdio server (the MCP Python SDK's FastMCP), driven by the
// TypeScript SDK's StdioClientTransport: the client gets what it gets directly, and every message is
// recorded and paired, the server's stderr line included.

const tmp = tempDb();
const cli = path.resolve('dist/src/cli/main.js');
const script = path.join(HERE, 'fastmcp_server.py');

afterAll(() => tmp.cleanup());

async function connect(command: string, args: string[]) {
  const stderr: Buffer[] = [];
  const transport = new StdioClientTransport({ command, args, env: { ...process.env, ...OFFLINE_ENV } as Record<string, string>, stderr: 'pipe' });
  transport.stderr?.on('data', (c: Buffer) => stderr.push(c));
  const client = new Client({ name: 'interop-stdio', version: '1.0.0' });
  await client.connect(transport);
  const tools = await client.listTools();
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'over stdio' } });
  const failed = await client.callTool({ name: 'explode', arguments: {} });
  const server = client.getServerVersion();
  await client.close();
  return { tools, echo, failed, server, stderr: Buffer.concat(stderr).toString('utf8') };
}

describe('mcptap wrap with a FastMCP stdio server (Python)', () => {
  it('answers as the server does directly, and records every message paired with its stderr line', async () => {
    const python = venvProgram('.venv-mcp', 'python');
    const serverArgs = [script, '--transport', 'stdio', '--name', 'pystdio'];
    const direct = await connect(python, serverArgs);
    const wrapped = await connect(process.execPath, [cli, 'wrap', '--db', tmp.db, '--label', 'fastmcp', '--', python, ...serverArgs]);

    expect(wrapped.server).toEqual(direct.server);
    expect(wrapped.tools).toEqual(direct.tools);
    expect(wrapped.echo).toEqual(direct.echo);
    expect((wrapped.echo.content as Array<{ text: string }>)[0].text).toBe('pystdio: over stdio');
    expect(wrapped.failed).toEqual(direct.failed);
    expect(wrapped.failed.isError).toBe(true);
    expect(wrapped.stderr).toContain('pystdio: FastMCP stdio server starting');
    expect(wrapped.stderr).not.toMatch(/mcptap/);

    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const session = store.listSessions({}).find((s) => s.label === 'fastmcp');
      expect(session).toBeDefined();
      expect(session!.transport).toBe('stdio');
      expect(session!.serverInfo?.name).toBe('pystdio');
      expect(session!.endedAt).not.toBeNull();
      const messages = [...store.iterateMessages(session!.id)];
      const requests = messages.filter((m) => m.kind === 'request' && m.direction === 'client->server');
      expect(requests.map((m) => m.method)).toEqual(['initialize', 'tools/list', 'tools/call', 'tools/call']);
      for (const r of requests) expect(r.correlatedSeq, r.method!).not.toBeNull();
      const explode = messages.find((m) => m.seq === requests[3].correlatedSeq)!;
      expect(explode.isError).toBe(true);
      expect(messages.some((m) => m.kind === 'log' && m.channel === 'stderr' && m.payload.includes('FastMCP stdio server starting'))).toBe(true);
    } finally {
      store.close();
    }
  });
});
