import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { XMLParser } from 'fast-xml-parser';
import { loadDiffInput } from '../src/analysis/input.js';
import { runChecks, type Finding } from '../src/analysis/checks/engine.js';
import { CaptureStore } from '../src/store/read.js';
import { playScenario } from './helpers/check-scenarios.js';
import { tempDb } from './helpers/tmp.js';

// What `mcptap check` says about each captured scenario: the root causes, each with what it explains
// folded under it (↳). One table, so a change to a rule shows its effect on every scenario at once.
// Recordings: test/fixtures/check-scenarios (real peers through the proxy, see
// test/helpers/check-scenarios.ts; re-record with dist/test/record-check-scenarios.js), the real LiteLLM's
// in test/fixtures/litellm, and the clean reference runs.

const times = (f: Finding) => (f.occurrences && f.occurrences > 1 ? ` (${f.occurrences} times)` : '');
/** A finding and its consequences as lines: "severity rule: title", consequences indented with ↳. */
const told = (fs: Finding[]) => fs.flatMap((f) => [
  `${f.severity} ${f.ruleId}: ${f.title}${times(f)}`,
  ...(f.caused ?? []).map((c) => `  ↳ ${c.severity} ${c.ruleId}: ${c.title}${times(c)}`),
]);

const SSE_AT_STREAMABLE = [
  'error transport-mismatch: GET /mcp/ answered 400: this is not a legacy SSE endpoint (2 times)',
  '  ↳ error session-header: GET /mcp/ answered 400: {"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"},"id":null} (2 times)',
];

const TABLE: Record<string, string[]> = {
  // Claude Code added with --transport sse at a stateful Streamable HTTP server's /mcp/: the one mistake, once.
  'check-scenarios/sse-at-streamable.1.jsonl': SSE_AT_STREAMABLE,
  // The corrected run (--transport http) seconds later, from the same address and User-Agent: its probe is
  // refused (400) and retried with the same id, which is how the fallback to initialize works.
  'check-scenarios/sse-at-streamable.2.jsonl': [],
  'check-scenarios/refused-key.1.jsonl': ['error auth: POST /mcp answered 401 (WWW-Authenticate: Bearer realm="litellm"); credential sent: Bearer sk-…0000'],
  'check-scenarios/unreachable.1.jsonl': [expect.stringMatching(/^error upstream-failure: POST \/mcp: the upstream could not be reached \(ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/)] as unknown as string[],
  'check-scenarios/prefixing-gateway.1.jsonl': [
    "error unknown-tool: tools/call echo: no such tool — the server (or gateway) lists it with the prefix 'db_main-'",
    '  ↳ warning tool-errors: tools/call echo returned isError: MCP error -32602: Tool echo not found',
  ],
  'check-scenarios/cancelled-call.1.jsonl': ['info unanswered: the client cancelled request 2: the user pressed Esc'],
  // The real LiteLLM (see test/interop).
  'litellm/1.108.7-attr-all.jsonl': ['error gateway-upstream: tools/list answered 200 with no tools from wrong_tr, down_srv: LiteLLM could not reach wrong_tr, down_srv'],
  'litellm/1.108.7-attr-header.jsonl': [],
  'litellm/1.108.7-attr-path.jsonl': [],
  'litellm/1.108.7-badkey.jsonl': [
    'error gateway-auth: POST /mcp/ answered 400: LiteLLM refused the key (not the master key, and no database to look it up in)',
    '  ↳ error http-status: POST /mcp/ answered 400 ({"detail":"No connected db."})',
  ],
  'litellm/1.108.7-down.jsonl': ['error gateway-upstream: tools/list answered 200 with no tools: LiteLLM could not reach down_srv'],
  'litellm/1.108.7-masked.jsonl': [
    'warning gateway-tool-error: tools/call db_main-execute_sql returned an error as a success: Error: relation "missing" does not exist',
    'warning tool-errors: tools/call db_main-explode returned isError: Error executing tool explode: the tool raised',
  ],
  'litellm/1.108.7-notfound.jsonl': [
    'error unknown-tool: tools/call nosuch: no such tool (the server said so)',
    '  ↳ warning tool-errors: tools/call nosuch returned isError: Error: Tool nosuch not found',
  ],
  'litellm/1.108.7-typo.jsonl': [
    'error gateway-servers: POST /mcp/ answered 403: x-mcp-servers: db-mian names no server this key may use',
    '  ↳ error auth: POST /mcp/ answered 403; credential sent: Bearer sk-…1234',
  ],
  'litellm/1.108.7-wrongtr.jsonl': ['error gateway-upstream: tools/list answered 200 with no tools: LiteLLM could not reach wrong_tr'],
  'litellm/1.77.3-attr-all.jsonl': [],
  'litellm/1.77.3-attr-header.jsonl': [],
  'litellm/1.77.3-attr-path.jsonl': [],
  'litellm/1.77.3-badkey.jsonl': [
    'error gateway-auth: POST /mcp/ answered 500: LiteLLM refused the key, reported as a server error',
    '  ↳ error upstream-failure: POST /mcp/ answered 500',
  ],
  'litellm/1.77.3-down.jsonl': ['error gateway-upstream: tools/list answered 200 with no tools: LiteLLM could not reach down_srv'],
  'litellm/1.77.3-masked.jsonl': [
    'warning gateway-tool-error: tools/call db_main-execute_sql returned an error as a success: Error: relation "missing" does not exist',
    'warning gateway-tool-error: tools/call db_main-explode returned an error as a success: Error executing tool explode: the tool raised',
  ],
  'litellm/1.77.3-notfound.jsonl': ["error gateway-tool-error: tools/call nosuch returned an error as a success: Error: Tool 'nosuch' not found"],
  'litellm/1.77.3-typo.jsonl': [
    'error gateway-servers: x-mcp-servers: db-mian matched no server: LiteLLM fell back to all of them (db_main, files)',
    '  ↳ error gateway-upstream: tools/list answered 200 with no tools from db-mian: LiteLLM could not reach db-mian',
  ],
  'litellm/1.77.3-wrongtr.jsonl': ['error gateway-upstream: tools/list answered 200 with no tools: LiteLLM could not reach wrong_tr'],
  // Clean runs of server-everything over both HTTP transports.
  '../../recordings/everything-streamable-http.jsonl': [],
  '../../recordings/everything-sse.jsonl': [],
  'recording-v1.jsonl': [],
};

describe('what check says about each captured scenario', () => {
  for (const [file, expected] of Object.entries(TABLE)) {
    it(file, () => {
      expect(told(runChecks(loadDiffInput(path.resolve('test/fixtures', file), null)))).toEqual(expected);
    });
  }

  it('the transport finding of the SSE case carries the --transport http fix, and its evidence is both GETs', () => {
    const [f] = runChecks(loadDiffInput(path.resolve('test/fixtures/check-scenarios/sse-at-streamable.1.jsonl'), null));
    expect(f.fix).toMatch(/^Use Streamable HTTP: claude mcp add --transport http <name> http:\/\/127\.0\.0\.1:\d+\/mcp\/$/);
    expect(f.evidence.exchangeIds).toHaveLength(2);
    expect(f.caused![0].evidence.exchangeIds).toEqual(f.evidence.exchangeIds);
  });
});

describe('the SSE-at-Streamable-HTTP case played again through the proxy (the tracker splits the two runs)', () => {
  const tmp = tempDb();
  afterAll(() => tmp.cleanup());

  it('gives exactly one error for the wrong transport, with its effects under it, and nothing for the corrected run', async () => {
    const sessions = await playScenario('sse-at-streamable', tmp.db);
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const results = sessions.map((id) => told(runChecks(loadDiffInput(id, store))));
      expect(results).toEqual([SSE_AT_STREAMABLE, []]);
    } finally {
      store.close();
    }
  });
});

describe('mcptap check shows the consequences folded under their cause in every format', () => {
  const cli = path.resolve('dist/src/cli/main.js');
  const file = path.resolve('test/fixtures/check-scenarios/sse-at-streamable.1.jsonl');
  const check = (...args: string[]) => spawnSync(process.execPath, [cli, 'check', file, ...args], { encoding: 'utf8', timeout: 60_000 });

  it('text: the cause, then "+1 consequence:" and what it explains', () => {
    const r = check();
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('1 errors, 0 warnings, 0 notes (and 1 consequences folded under them)');
    expect(r.stdout).toMatch(/ERROR {3}\[transport-mismatch\] GET \/mcp\/ answered 400: this is not a legacy SSE endpoint \(2 times\)\n(.*\n){3}          \+1 consequence:\n            error \[session-header\] GET \/mcp\/ answered 400: /);
    expect(r.stdout.match(/\[session-header\]/g)).toHaveLength(1);
  });

  it('--json: caused, occurrences and the cause category on the finding', () => {
    const [{ findings }] = JSON.parse(check('--format', 'json').stdout);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ ruleId: 'transport-mismatch', cause: 'transport', occurrences: 2, caused: [{ ruleId: 'session-header', occurrences: 2 }] });
  });

  it('SARIF: one result, its consequence in relatedLocations', () => {
    const sarif = JSON.parse(check('--format', 'sarif').stdout);
    const results = sarif.runs[0].results;
    expect(results.map((x: { ruleId: string }) => x.ruleId)).toEqual(['transport-mismatch']);
    expect(results[0].relatedLocations).toEqual([expect.objectContaining({ id: 0, message: { text: expect.stringMatching(/^consequence: error \[session-header\] GET \/mcp\/ answered 400/) } })]);
  });

  it('JUnit: the cause fails, with its consequence in the failure; the consequence\'s rule passes and says why', () => {
    const doc = new XMLParser({ ignoreAttributes: false }).parse(check('--format', 'junit').stdout);
    const cases = [doc.testsuites.testsuite.testcase].flat();
    const byName = (n: string) => cases.find((c: { '@_name': string }) => c['@_name'] === n);
    expect(byName('transport-mismatch').failure['#text']).toMatch(/\+1 consequence:\n {2}error \[session-header\]/);
    expect(byName('session-header').failure).toBeUndefined();
    expect(byName('session-header')['system-out']).toMatch(/a consequence of \[transport-mismatch\]/);
    expect(doc.testsuites['@_failures']).toBe('1');
  });
});
