import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeRecording } from '../../src/store/jsonl.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/peers.js';
import { MASTER_KEY } from './litellm.js';
import { HERE, pins } from './peers.js';
import { ownConnections, startStack, type Stack } from './stack.js';

// Direct vs gateway: a session recorded straight against a FastMCP server, replayed with `mcptap replay`
// against the real LiteLLM in front of the same server (and a gateway session replayed back at the server
// itself), diffs as equivalent apart from the gateway: the report names LiteLLM, the server and the prefix.

const CLI = path.join(HERE, '..', '..', 'dist', 'src', 'cli', 'main.js');

function mcptap(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.each(pins().litellm)('LiteLLM %s: replay direct ⇄ gateway', (version) => {
  let s: Stack;
  let direct: string;
  let gateway: string;

  /** An SDK client's session: list the tools, call two by the names listed. */
  async function record(url: string, headers: Record<string, string>): Promise<void> {
    const pool = ownConnections();
    const c = await connectClient('streamable-http', url, { name: 'replayed', headers, fetch: pool.fetch });
    const { tools } = await c.client.listTools();
    const name = (t: string) => tools.find((x) => x.name === t || x.name.endsWith('-' + t))!.name;
    await c.client.callTool({ name: name('echo'), arguments: { message: 'hi' } });
    await c.client.callTool({ name: name('list_schemas'), arguments: {} });
    await c.close();
    pool.close();
  }

  beforeAll(async () => {
    s = await startStack(version);
    // The files server (Streamable HTTP at /mcp), straight through an mcptap of its own, and through LiteLLM at /mcp/files.
    const straight = await s.extraProxy(s.upstream.files.url);
    await record(straight.url + '/mcp', {});
    await straight.flush();
    await record(s.proxy.url + '/mcp/files', { Authorization: `Bearer ${MASTER_KEY}` });
    await s.proxy.flush();
    const store = s.store();
    try {
      const mine = store.listSessions().filter((x) => x.clientInfo?.name === 'replayed');
      direct = mine.find((x) => !x.gateway)!.id;
      gateway = mine.find((x) => x.gateway)!.id;
      // MCPTAP_INTEROP_RECORD=1 keeps both (redacted) for npm test's gateway-recordings.test.ts.
      if (process.env.MCPTAP_INTEROP_RECORD) {
        const dir = path.join(HERE, '..', 'fixtures', 'litellm');
        fs.mkdirSync(dir, { recursive: true });
        writeRecording(store, direct, path.join(dir, `${version}-replay-direct.jsonl`));
        writeRecording(store, gateway, path.join(dir, `${version}-replay-gateway.jsonl`));
      }
    } finally {
      store.close();
    }
  });
  afterAll(async () => s?.close());

  it('a direct session replayed through LiteLLM: equivalent apart from the prefix LiteLLM added, which it names', () => {
    const r = mcptap(['replay', direct, '--db', s.db, '--target', s.litellm.url, '--endpoint', '/mcp/files', '--header', `Authorization: Bearer ${MASTER_KEY}`, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.renamed).toEqual([{ from: 'echo', to: 'files-echo' }, { from: 'list_schemas', to: 'files-list_schemas' }]);
    expect(out.diff.equivalent).toBe(true);
    expect(out.diff.gateway).toMatchObject({ side: 'b', name: 'litellm', via: 'via litellm → files', server: 'files', prefix: 'files-' });
    expect(out.diff.verdict).toBe(`equivalent apart from the gateway (B went via litellm → files, which added the prefix 'files-' to 4 tools): 5 aligned messages match (ids, session ids, timestamps and tokens normalised)`);
    expect(out.diff.gateway.changes.join('\n')).toMatch(/B's initialize was answered by the gateway: .*server version "1.30.0" → "1.0.0"/);
    // Nothing outside the gateway's own: the calls and their answers are the same.
    expect(out.diff.outcomes).toEqual([]);
    expect(out.diff.changes).toEqual([]);
  });

  it('a gateway session replayed straight at the server: equivalent apart from the prefix the gateway had added', () => {
    const r = mcptap(['replay', gateway, '--db', s.db, '--target', s.upstream.files.url, '--endpoint', '/mcp']);
    // The key was redacted in the recording and the server wants none: only the warning says so.
    expect(r.stderr).toContain('the recorded authorization header was redacted');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('called under the names the target lists: files-echo → echo, files-list_schemas → list_schemas');
    expect(r.stdout).toContain(`equivalent apart from the gateway (A went via litellm → files, which had added the prefix 'files-' to 4 tools)`);
    expect(r.stdout).toMatch(/Gateway\n  A went via litellm → files \(upstream server files\), tool prefix 'files-'; what the gateway changed:\n    A's initialize was answered by the gateway/);
  });

  it('diff of the two recorded sessions says the same; a gateway in front of another server is a difference', () => {
    const same = mcptap(['diff', direct, gateway, '--db', s.db, '--json']);
    expect(same.status).toBe(0);
    expect(JSON.parse(same.stdout).gateway).toMatchObject({ side: 'b', server: 'files', prefix: 'files-' });
    // db_main has the same tool names, but its echo answers "db_main: hi": not the server A talked to.
    const other = mcptap(['replay', direct, '--db', s.db, '--target', s.litellm.url, '--endpoint', '/mcp/db_main', '--header', `Authorization: Bearer ${MASTER_KEY}`, '--json']);
    expect(other.status).toBe(1);
    const out = JSON.parse(other.stdout);
    expect(out.diff.equivalent).toBe(false);
    expect(out.diff.gateway).toMatchObject({ server: 'db_main', prefix: 'db_main-' });
    expect(out.diff.verdict).toMatch(/^different: B went via litellm → db_main, which added the prefix 'db_main-' to 4 tools, .*messages? differ/);
  });
});
