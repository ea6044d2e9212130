import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChecks } from '../src/analysis/checks/engine.js';
import { describeGateway, routeOfTool } from '../src/capture/gateway.js';
import { readRecording } from '../src/store/jsonl.js';
import { diffSessions } from '../src/analysis/diff.js';
import { tempDb } from './helpers/tmp.js';

// Real LiteLLM traffic, recorded by the interop suite (MCPTAP_INTEROP_RECORD=1 npm run test:interop: the MCP
// SDK's client through mcptap to LiteLLM 1.77.3 and 1.108.7 in front of FastMCP servers), so that the
// gateway attribution and LiteLLM's findings are covered without Python. Keys in it are fingerprints.

const DIR = path.resolve('test/fixtures/litellm');
const VERSIONS = ['1.77.3', '1.108.7'];
const load = (version: string, name: string) => readRecording(path.join(DIR, `${version}-${name}.jsonl`));
const findings = (version: string, name: string) => {
  const r = load(version, name);
  return runChecks({ session: r.session, messages: r.messages, exchanges: r.exchanges });
};
const titles = (version: string, name: string, rule: string) => findings(version, name).filter((f) => f.ruleId === rule).map((f) => f.title);

describe.each(VERSIONS)('LiteLLM %s recordings', (version) => {
  it('hold no key in clear', () => {
    for (const f of fs.readdirSync(DIR).filter((x) => x.startsWith(version))) {
      expect(fs.readFileSync(path.join(DIR, f), 'utf8')).not.toMatch(/sk-interop-master-1234|sk-not-the-master-key/);
    }
  });

  it('attribute the session and each tools/call to the upstream server', () => {
    const r = load(version, 'attr-header');
    expect(describeGateway(r.session.gateway)).toBe('via litellm → db_main');
    const call = r.messages.find((m) => m.method === 'tools/call' && m.kind === 'request')!;
    expect(routeOfTool(r.session.gateway!, call.subject!)).toEqual({ server: 'db_main', tool: 'list_schemas', by: 'prefix' });
    expect(load(version, 'attr-all').session.gateway!.prefixes).toEqual(['db_main', 'files']);
    expect(load(version, 'attr-path').session.gateway).toMatchObject({ servers: ['files'], selectedBy: 'path' });
  });

  it('gateway-upstream: a server that is down, and one declared with the wrong transport', () => {
    expect(titles(version, 'down', 'gateway-upstream')).toEqual(['tools/list answered 200 with no tools: LiteLLM could not reach down_srv']);
    expect(titles(version, 'wrongtr', 'gateway-upstream')).toEqual(['tools/list answered 200 with no tools: LiteLLM could not reach wrong_tr']);
    // Listing every server: 1.108 reports the two broken ones in result._meta; 1.77 says nothing at all.
    expect(titles(version, 'attr-all', 'gateway-upstream')).toEqual(version === '1.77.3' ? []
      : ['tools/list answered 200 with no tools from wrong_tr, down_srv: LiteLLM could not reach wrong_tr, down_srv']);
    // A healthy listing of the selected server is not reported.
    expect(titles(version, 'attr-header', 'gateway-upstream')).toEqual([]);
  });

  it('gateway-tool-error: an error text with isError false', () => {
    const masked = titles(version, 'masked', 'gateway-tool-error');
    expect(masked[0]).toBe('tools/call db_main-execute_sql returned an error as a success: Error: relation "missing" does not exist');
    // 1.77 drops the isError: true of the tool that raised; 1.108 keeps it (tool-errors tells that one).
    expect(masked.length).toBe(version === '1.77.3' ? 2 : 1);
  });

  it('gateway-servers: a misspelt x-mcp-servers', () => {
    expect(titles(version, 'typo', 'gateway-servers')).toEqual([version === '1.77.3'
      ? 'x-mcp-servers: db-mian matched no server: LiteLLM fell back to all of them (db_main, files)'
      : expect.stringMatching(/^POST \/mcp\/ answered 4\d\d: x-mcp-servers: db-mian names no server this key may use$/)]);
  });

  it('diff: the same server straight and through LiteLLM is equivalent apart from the gateway, which it names', () => {
    const [direct, gw] = [load(version, 'replay-direct'), load(version, 'replay-gateway')];
    for (const [a, b, side] of [[direct, gw, 'b'], [gw, direct, 'a']] as const) {
      const d = diffSessions(a, b);
      expect(d.equivalent).toBe(true);
      expect(d.gateway).toMatchObject({ side, name: 'litellm', via: 'via litellm → files', server: 'files', prefix: 'files-' });
      expect(d.verdict).toMatch(side === 'b' ? /^equivalent apart from the gateway \(B went via litellm → files, which added the prefix 'files-' to 4 tools\)/
        : /^equivalent apart from the gateway \(A went via litellm → files, which had added the prefix 'files-' to 4 tools\)/);
    }
    // The handshake alone is a difference when neither side is known to be a gateway's.
    const plain = diffSessions(direct, { ...gw, session: { ...gw.session, gateway: null } });
    expect(plain.equivalent).toBe(false);
    expect(plain.gateway).toBeNull();
    expect(plain.tools.pattern).toMatch(/gained the prefix 'files-'/);
  });

  it('gateway-auth: a refused key, told once', () => {
    const all = findings(version, 'badkey');
    expect(all.filter((f) => f.ruleId === 'gateway-auth')).toHaveLength(1);
    expect(all.filter((f) => ['upstream-failure', 'http-status', 'auth'].includes(f.ruleId))).toEqual([]);
  });
});

describe('LiteLLM 1.77.3 through mcptap proxy (live-mode recordings)', () => {
  it("gateway-tool-error: 1.77's \"MCP client session is not initialized\" for an upstream that died is an error with the server to fix", () => {
    const x = findings('1.77.3', 'live-died').filter((f) => f.ruleId === 'gateway-tool-error');
    expect(x.map((f) => [f.severity, f.title])).toEqual([['error', 'tools/call db_main-echo returned an error as a success: MCP client session is not initialized']]);
    expect(x[0].fix).toMatch(/^Start \(or fix\) the upstream server db_main: mcp_servers\.db_main\.url/);
  });

  it('redirect: POST /mcp → 307 /mcp/ is told as LiteLLM serving MCP on /mcp/, with the URL to use', () => {
    const x = findings('1.77.3', 'live-redirect').filter((f) => f.ruleId === 'redirect');
    expect(x.map((f) => f.title)).toEqual(['POST /mcp answered 307: redirected to /mcp/, and the client did not follow it']);
    expect(x[0].explanation).toMatch(/LiteLLM serves MCP on \/mcp\//);
    expect(x[0].fix).toMatch(/claude mcp add --transport http <name> http:\/\/127\.0\.0\.1:\d+\/mcp\/$/);
  });
});

describe('what a person sees', () => {
  const tmp = tempDb();
  const cli = path.resolve('dist/src/cli/main.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 15_000, env: { ...process.env, MCPTAP_DB: tmp.db } });
  afterAll(() => tmp.cleanup());

  it('sessions and show say "via litellm → db_main", and show marks each call with its server', () => {
    expect(run('import', path.join(DIR, '1.77.3-attr-header.jsonl')).status).toBe(0);
    const list = run('sessions');
    expect(list.stdout).toContain('attr-header via litellm → db_main');
    const json = JSON.parse(run('sessions', '--json').stdout);
    expect(json[0]).toMatchObject({ via: 'via litellm → db_main', gateway: { name: 'litellm', servers: ['db_main'], selectedBy: 'header' } });
    const show = run('show', json[0].id);
    expect(show.stdout).toMatch(/via litellm → db_main/);
    expect(show.stdout).toMatch(/tools\/call .*→ db_main: db_main-list_sch/);
    const shown = JSON.parse(run('show', json[0].id, '--json').stdout);
    expect(shown.messages.filter((m: { method: string }) => m.method === 'tools/call').map((m: { upstreamServer?: string }) => m.upstreamServer)).toEqual(['db_main', 'db_main']);
  });
});
