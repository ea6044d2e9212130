import fs from 'node:fs';
import path from 'node:path';

/**
 * The real Claude Code runs (see the README beside them), copied from the project's shared fixtures into the
 * repo so that a clone tests on its own. Their only key is a placeholder.
 */
export const FIXTURE_DIR = process.env.MCPTAP_CLAUDE_FIXTURES ?? path.resolve('test/fixtures/claude-code-runs');
export const RUNS = ['echo-http', 'echo-sse', 'gateway-prefixed', 'no-such-tool'] as const;
/** The runs against an MCPServer of the Python SDK 2.3.0 speaking 2026-07-28 (no handshake, no session). */
export const RUNS_2026 = ['echo-2026', 'progress-2026', 'elicit-2026', 'tool-error-2026'] as const;
/** The runs against real peers (LiteLLM 1.77.3's redirect, postgres-mcp over SSE), whose MCP side the others' shape does not fit. */
export type Run = (typeof RUNS)[number] | (typeof RUNS_2026)[number] | 'redirect-followed' | 'postgres-sse-direct';

export interface RecordedExchange {
  started: number;
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody: string;
  status?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  chunkTimesMs?: number[];
  clientClosedAfterMs?: number;
}

export function readRun(run: Run, half: 'model' | 'mcp'): RecordedExchange[] {
  const text = fs.readFileSync(path.join(FIXTURE_DIR, `${run}.${half}.jsonl`), 'utf8');
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as RecordedExchange);
}

/** Response headers a replaying server must not copy (it frames its own body). */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

/**
 * A server answering as the recorded peers did: each model request with the next recorded answer of
 * its run, each MCP request with the answer recorded for the same body. The SSE answers go out in the
 * chunks they arrived in. Exchanges the client closed early (standing GET streams) are not replayed.
 */
export function replayHandler(model: RecordedExchange[], mcp: RecordedExchange[]) {
  let nextModel = 0;
  return (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const isModel = (req.url ?? '').startsWith('/v1/messages');
      const rec = isModel ? model[nextModel++] : mcp.find((x) => x.method === req.method && x.url === req.url && x.requestBody === body && x.status != null);
      if (!rec || rec.status == null) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not in the recording');
        return;
      }
      const headers = Object.fromEntries(Object.entries(rec.responseHeaders ?? {}).filter(([k]) => !FRAMING.has(k)));
      res.writeHead(rec.status, headers);
      const text = rec.responseBody ?? '';
      // Sent as several writes where the recording streamed (events split across chunks as they may be).
      const parts = Math.max(1, rec.chunkTimesMs?.length ?? 1);
      const size = Math.ceil(text.length / parts) || 1;
      for (let i = 0; i < text.length; i += size) res.write(text.slice(i, i + size));
      res.end();
    });
  };
}

/** The recorded client requests of a run, both halves, in the order they were sent. */
export function clientRequests(run: Run): Array<{ half: 'model' | 'mcp'; ex: RecordedExchange }> {
  const all = [
    ...readRun(run, 'model').map((ex) => ({ half: 'model' as const, ex })),
    ...readRun(run, 'mcp').filter((ex) => ex.status != null).map((ex) => ({ half: 'mcp' as const, ex })),
  ];
  return all.sort((a, b) => a.ex.started - b.ex.started);
}

const ELIDED = /\[text elided from the fixture: (\d+) characters\]/g;

/**
 * A recorded model request as large as it was on the wire: the fixture elides Claude Code's own long
 * texts, and each is put back as filler of its length (within 1.5% of `requestBodyOriginalBytes`, the
 * originals holding some multi-byte characters), so that what a request costs in context is real.
 */
export function fullSizeBody(body: string): string {
  return body.replace(ELIDED, (_m, n) => 'Claude Code instructions. '.repeat(Math.ceil(Number(n) / 26)).slice(0, Number(n)));
}

/** Sends one recorded request as Claude Code did (its headers, its body at its full size), to `base`. */
export async function sendRecorded(base: string, ex: RecordedExchange, f: typeof fetch = fetch): Promise<{ status: number; body: string }> {
  const skip = new Set(['host', 'content-length', 'connection', 'accept-encoding']);
  const headers = Object.fromEntries(Object.entries(ex.requestHeaders).filter(([k]) => !skip.has(k)));
  const r = await f(base + ex.url, { method: ex.method, headers, body: ex.method === 'GET' ? undefined : fullSizeBody(ex.requestBody) });
  return { status: r.status, body: await r.text() };
}

/** The `subscriptions/listen` exchange of a 2026 run: recorded without an answer (the client closed it at the end). */
export const isListen = (ex: RecordedExchange) => ex.requestHeaders['mcp-method'] === 'subscriptions/listen';

/**
 * A 2026-07-28 server answering as the recorded one did, plus the `subscriptions/listen` stream the recording
 * could not keep (it has no final response): acknowledged on an event stream that stays open until the client
 * closes it, as the Python SDK 2.3.0 does.
 */
export function replayHandler2026(model: RecordedExchange[], mcp: RecordedExchange[]) {
  const recorded = replayHandler(model, mcp);
  return (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    if (req.headers['mcp-method'] !== 'subscriptions/listen') return recorded(req, res);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; params: { notifications: unknown } };
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
      const ack = { jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: body.params.notifications, _meta: { 'io.modelcontextprotocol/subscriptionId': body.id } } };
      res.write(`event: message\ndata: ${JSON.stringify(ack)}\n\n`);
    });
  };
}

/**
 * Plays a 2026 run's client half as Claude Code sent it: the listen opened (and held) after discover, the
 * other requests in their order, then the listen closed by the client, as at the end of the run. `f` is the
 * client's fetch (a pool of connections of its own stands for a process of its own).
 * Returns the HTTP statuses of the requests.
 */
export async function playRun2026(base: string, run: (typeof RUNS_2026)[number], f: typeof fetch = fetch): Promise<number[]> {
  const all = clientRequests(run);
  const listen = readRun(run, 'mcp').find(isListen)!;
  const abort = new AbortController();
  const statuses: number[] = [];
  let opened: Promise<void> | null = null;
  for (const { ex } of all) {
    statuses.push((await sendRecorded(base, ex, f)).status);
    if (!opened && ex.requestHeaders['mcp-method'] === 'server/discover') {
      const skip = new Set(['host', 'content-length', 'connection', 'accept-encoding']);
      const headers = Object.fromEntries(Object.entries(listen.requestHeaders).filter(([k]) => !skip.has(k)));
      const r = await f(base + listen.url, { method: 'POST', headers, body: listen.requestBody, signal: abort.signal });
      const reader = r.body!.getReader();
      await reader.read(); // the acknowledgement arrived: the subscription is open
      opened = reader.closed.catch(() => {});
    }
  }
  abort.abort();
  await opened;
  return statuses;
}
