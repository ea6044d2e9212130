import fs from 'node:fs';
import path from 'node:path';

/**
 * The real Claude Code runs (see the README beside them), copied from the project's shared fixtures into the
 * repo so that a clone tests on its own. Their only key is a placeholder.
 */
export const FIXTURE_DIR = process.env.MCPTAP_CLAUDE_FIXTURES ?? path.resolve('test/fixtures/claude-code-runs');
export const RUNS = ['echo-http', 'echo-sse', 'gateway-prefixed', 'no-such-tool'] as const;
/** The runs against real peers (LiteLLM 1.77.3's redirect, postgres-mcp over SSE), whose MCP side the others' shape does not fit. */
export type Run = (typeof RUNS)[number] | 'redirect-followed' | 'postgres-sse-direct';

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

/** Sends one recorded request as Claude Code did (its headers, its body), to `base`. */
export async function sendRecorded(base: string, ex: RecordedExchange): Promise<{ status: number; body: string }> {
  const skip = new Set(['host', 'content-length', 'connection', 'accept-encoding']);
  const headers = Object.fromEntries(Object.entries(ex.requestHeaders).filter(([k]) => !skip.has(k)));
  const r = await fetch(base + ex.url, { method: ex.method, headers, body: ex.method === 'GET' ? undefined : ex.requestBody });
  return { status: r.status, body: await r.text() };
}
