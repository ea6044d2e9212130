import { execFile } from 'node:child_process';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { runChecks } from '../../src/analysis/checks/engine.js';
import { loadDiffInput } from '../../src/analysis/input.js';
import { startProxy } from '../../src/proxy/server.js';
import { CaptureStore } from '../../src/store/read.js';
import { diffSessions } from '../../src/analysis/diff.js';
import { HERE, OFFLINE_ENV, venvProgram } from './peers.js';

// The peer matrix: one real server implementation over one transport, driven by one real client, through
// mcptap (a proxy in front of an HTTP server, `mcptap wrap` around a stdio one), then judged from what mcptap
// recorded. A clean run must give one session, both peers named, every request paired and no finding.

export type CellTransport = 'streamable-http' | 'sse' | 'stdio';
export type ClientKind = 'ts-sdk' | 'py-sdk' | 'py-sdk-2';

export interface Outcome {
  /** MCP sessions recorded (conversations and plain HTTP aside). */
  sessions: number;
  transports: string[];
  client: string | null;
  server: string | null;
  /** Requests with no answer paired to them: `method id`. */
  unpaired: string[];
  /** `severity [rule]` of every finding of every session, root causes first. */
  findings: string[];
  /** The echo tool's answer as the client got it. */
  echoed: string | null;
}

const cli = path.resolve('dist/src/cli/main.js');

/** Reads what mcptap recorded into `db` and judges it. */
export function observe(db: string, echoed: string | null): Outcome {
  const store = CaptureStore.open(db, { readonly: true });
  try {
    const sessions = store.listSessions().filter((s) => s.transport !== 'model-api' && s.transport !== 'http');
    const unpaired: string[] = [];
    const findings: string[] = [];
    for (const s of sessions) {
      for (const m of store.iterateMessages(s.id)) {
        if (m.kind === 'request' && m.correlatedSeq == null) unpaired.push(`${m.method} ${JSON.stringify(m.rpcId)}`);
      }
      for (const f of runChecks(loadDiffInput(s.id, store))) findings.push(`${f.severity} [${f.ruleId}] ${f.title}`);
    }
    return {
      sessions: sessions.length,
      transports: sessions.map((s) => s.transport),
      client: sessions[0]?.clientInfo?.name ?? null,
      server: sessions[0]?.serverInfo?.name ?? null,
      unpaired, findings, echoed,
    };
  } finally {
    store.close();
  }
}

/** The tool a cell calls: echo, unless the server has none (postgres-mcp: list_schemas). */
export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
}
const ECHO: ToolCall = { name: 'echo', arguments: { message: 'from the matrix' } };

async function tsClientRun(transport: Transport, name: string, call: ToolCall): Promise<string> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    // Behind a gateway the tool may be listed with a server prefix (LiteLLM: db_main-echo): call it as listed.
    const name = tools.find((t) => t.name === call.name)?.name ?? tools.find((t) => t.name.endsWith('-' + call.name))?.name ?? call.name;
    const r = await client.callTool({ name, arguments: call.arguments });
    return (r.content as Array<{ text: string }>)[0].text;
  } finally {
    await client.close();
  }
}

/** The Python SDK's client (py_client.py, or the 2.x one, py2_client.py) against `url`; the echo's text. */
function pyClientRun(kind: ClientKind, transport: 'sse' | 'streamable-http', url: string): Promise<string> {
  const python = venvProgram(kind === 'py-sdk-2' ? '.venv-mcp2' : '.venv-mcp', 'python');
  const args = kind === 'py-sdk-2' ? [path.join(HERE, 'py2_client.py'), url] : [path.join(HERE, 'py_client.py'), transport, url];
  return new Promise((resolve, reject) => {
    execFile(python, args, { env: { ...process.env, ...OFFLINE_ENV }, timeout: 90_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`py_client.py failed: ${stderr.trim().split('\n').slice(-1)[0] ?? err.message}`));
      resolve((JSON.parse(stdout.trim().split('\n').pop()!) as { text: string }).text);
    });
  });
}

/**
 * One HTTP cell: a fresh proxy in front of `origin`, recording into `db`; the client talks to the proxy at
 * `endpointPath` (the server's /mcp or /sse); the proxy is closed (everything stored) before judging.
 */
export async function httpCell(db: string, origin: string, endpointPath: string, transport: 'sse' | 'streamable-http', client: ClientKind, call: ToolCall = ECHO,
  via: { headers?: Record<string, string>; fetch?: (url: string | URL, init?: RequestInit) => Promise<Response> } = {}): Promise<Outcome> {
  const proxy = await startProxy({ target: origin, port: 0, db, onWarning: () => {} });
  let echoed: string | null = null;
  try {
    const url = proxy.url + endpointPath;
    if (client !== 'ts-sdk') echoed = await pyClientRun(client, transport, url);
    else echoed = await tsClientRun(transport === 'sse' ? new SSEClientTransport(new URL(url)) : new StreamableHTTPClientTransport(new URL(url), { requestInit: via.headers ? { headers: via.headers } : undefined, fetch: via.fetch }), 'matrix-ts-client', call);
  } finally {
    await proxy.close();
  }
  return observe(db, echoed);
}

/** One stdio cell: the TypeScript SDK's client starts `mcptap wrap -- command args`. */
export async function stdioCell(db: string, command: string, args: string[], call: ToolCall = ECHO): Promise<Outcome> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [cli, 'wrap', '--db', db, '--', command, ...args], env: { ...process.env, ...OFFLINE_ENV } as Record<string, string>, stderr: 'ignore' });
  const echoed = await tsClientRun(transport, 'matrix-ts-client', call);
  // wrap stores before it exits; the client's close waited for the process.
  return observe(db, echoed);
}

export interface Row {
  peer: string;
  transport: string;
  client: string;
  via: string;
  result: string;
}

/** The matrix as a table, peer × transport × client × path → result. */
export function table(rows: Row[]): string {
  const head: Row = { peer: 'peer', transport: 'transport', client: 'client', via: 'via', result: 'result' };
  const cols = Object.keys(head) as Array<keyof Row>;
  const width = cols.map((c) => Math.max(...[head, ...rows].map((r) => r[c].length)));
  const line = (r: Row) => '| ' + cols.map((c, i) => r[c].padEnd(width[i])).join(' | ') + ' |';
  return [line(head), '|' + width.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

/** A clean run's verdict in one word, or what was wrong. */
export function verdict(o: Outcome): string {
  const wrong: string[] = [];
  if (o.sessions !== 1) wrong.push(`${o.sessions} sessions (${o.transports.join(', ')})`);
  if (!o.client) wrong.push('client unnamed');
  if (!o.server) wrong.push('server unnamed');
  if (o.unpaired.length) wrong.push(`unpaired: ${o.unpaired.join(', ')}`);
  if (o.findings.length) wrong.push(`findings: ${o.findings.map((f) => f.replace(/\].*/, ']')).join(', ')}`);
  if (!o.echoed) wrong.push('no echo');
  return wrong.length ? wrong.join('; ') : 'clean';
}

/** The diff verdict of the one MCP session in each of two databases (direct, then through the gateway). */
export function diffVerdict(directDb: string, gatewayDb: string): string {
  const a = CaptureStore.open(directDb, { readonly: true });
  const b = CaptureStore.open(gatewayDb, { readonly: true });
  try {
    const one = (st: CaptureStore) => st.listSessions().filter((s) => s.transport !== 'model-api' && s.transport !== 'http')[0].id;
    return diffSessions(loadDiffInput(one(a), a), loadDiffInput(one(b), b)).verdict;
  } finally {
    a.close();
    b.close();
  }
}
