import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { runChecks } from '../src/analysis/checks/engine.js';
import { loadDiffInput } from '../src/analysis/input.js';
import { startProxy } from '../src/proxy/server.js';
import { probeTarget } from '../src/proxy/probe.js';
import { parseTarget } from '../src/proxy/target.js';
import { connectLines } from '../src/cli/banner.js';
import { CaptureStore } from '../src/store/read.js';
import { echoServer, listen, streamableHandler } from './helpers/peers.js';
import { tempDb } from './helpers/tmp.js';
import { readRun, type RecordedExchange } from './helpers/claude-fixtures.js';

// The redirect verdict follows what the client did on the wire. redirect-followed is real Claude Code 2.1.330
// at real LiteLLM 1.77.3's /mcp: every request answered 307 → /mcp/, and Claude Code sends each one again
// there (the same JSON-RPC id) and works. Played back through the proxy as it happened, that run has no
// error; a client that stops at the 307 has the redirect error.

const FIXTURE_ORIGIN = 'http://127.0.0.1:4192';
const tmp = tempDb();

/** Answers as LiteLLM did in the recording (Location moved to this server's origin); the GET /mcp/ stream stays open. */
function liteLLMAsRecorded(mcp: RecordedExchange[], origin: () => string) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.method === 'GET' && req.url === '/mcp/') return void res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
      const rec = mcp.find((x) => x.method === req.method && x.url === req.url && x.requestBody === body && x.status != null);
      if (!rec) return void res.writeHead(404).end('not in the recording');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(rec.responseHeaders ?? {})) {
        if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date'].includes(k)) headers[k] = k === 'location' ? v.replace(FIXTURE_ORIGIN, origin()) : v;
      }
      res.writeHead(rec.status!, headers).end(rec.responseBody ?? '');
    });
  };
}

/** Sends one recorded request as Claude Code did, never following a redirect itself; a GET stream is left after its head. */
function sendAsRecorded(base: string, ex: RecordedExchange): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = Object.fromEntries(Object.entries(ex.requestHeaders).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)));
    const req = http.request(base + ex.url, { method: ex.method, headers, agent: false }, (res) => {
      if (ex.method === 'GET' && res.statusCode === 200) {
        res.destroy();
        return resolve(200);
      }
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(ex.method === 'GET' ? undefined : ex.requestBody);
  });
}

async function record(db: string, exchanges: RecordedExchange[], all: RecordedExchange[]): Promise<ReturnType<typeof findingsOf>> {
  let origin = '';
  const l = await listen(http.createServer(liteLLMAsRecorded(all, () => origin)));
  origin = `http://127.0.0.1:${l.port}`;
  const p = await startProxy({ target: origin, port: 0, db, onWarning: () => {} });
  for (const ex of exchanges) await sendAsRecorded(p.url, ex);
  await p.close();
  await l.close();
  return findingsOf(db);
}

function findingsOf(db: string) {
  const store = CaptureStore.open(db, { readonly: true });
  try {
    const sessions = store.listSessions().filter((s) => s.transport !== 'model-api');
    return { sessions, findings: sessions.flatMap((s) => runChecks(loadDiffInput(s.id, store))) };
  } finally {
    store.close();
  }
}

const mcp = readRun('redirect-followed', 'mcp');

describe('the redirect verdict (Claude Code 2.1.330 at LiteLLM 1.77.3 /mcp)', () => {
  it('a followed redirect is at most a note: no error, no unanswered re-sent ids, no --transport sse advice', async () => {
    const { findings } = await record(tmp.db + '.followed', mcp, mcp);
    const text = findings.map((f) => `${f.severity} [${f.ruleId}] ${f.title} ${f.fix} ${JSON.stringify(f.evidence)}`);
    expect(findings.filter((f) => f.severity !== 'info'), text.join('\n')).toEqual([]);
    expect(findings.filter((f) => f.ruleId === 'unanswered'), text.join('\n')).toEqual([]);
    expect(text.join('\n')).not.toContain('--transport sse');
    const note = findings.find((f) => f.ruleId === 'redirect');
    expect(note?.severity).toBe('info');
    expect(note?.fix).toContain('/mcp/');
  });

  it('a redirect the client did not follow is the error, with the URL to use', async () => {
    // The client gave up at the first 307 (the probe), and the next (initialize), as a client that does not follow would.
    const stopped = mcp.filter((x) => x.url === '/mcp' && x.method === 'POST').slice(0, 2);
    const { findings } = await record(tmp.db + '.stopped', stopped, mcp);
    const errors = findings.filter((f) => f.ruleId === 'redirect');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((f) => f.severity === 'error')).toBe(true);
    expect(errors[0].explanation).toMatch(/did not follow/);
    expect(errors[0].fix).toMatch(/claude mcp add --transport http \S+ http:\/\/127\.0\.0\.1:\d+\/mcp\//);
  });

  it("the banner's claude mcp add line names /mcp/ when the target redirects /mcp there", async () => {
    const h = streamableHandler(echoServer, '/mcp/');
    let origin = '';
    const l = await listen(http.createServer((req, res) => (req.url === '/mcp' ? void res.writeHead(307, { location: `${origin}/mcp/` }).end() : void h.handle(req, res))));
    origin = `http://127.0.0.1:${l.port}`;
    try {
      const probe = await probeTarget(parseTarget(origin));
      expect(probe).toMatchObject({ transport: 'streamable-http', mcpPath: '/mcp/' });
      const [first] = connectLines({ host: '127.0.0.1', port: 8808, url: 'http://127.0.0.1:8808', target: parseTarget(origin) } as never, 'litellm', probe);
      expect(first).toBe('claude mcp add --transport http litellm http://127.0.0.1:8808/mcp/');
    } finally {
      await h.closeAll();
      await l.close();
    }
  });
});

afterAll(() => tmp.cleanup());
