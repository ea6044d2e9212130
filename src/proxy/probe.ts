import http from 'node:http';
import https from 'node:https';
import type { Target } from './target.js';

export interface TargetProbe {
  /** False when no connection could be made (refused, no such host, timed out). */
  reachable: boolean;
  /** Why not, e.g. "ECONNREFUSED". */
  error?: string;
  /** What the target's endpoint answered like; null when neither probe looked like MCP. */
  transport: 'streamable-http' | 'sse' | null;
  /** The HTTP status of the POST probe (a 401 says a key is needed, a 404 a wrong path). */
  postStatus?: number;
  /**
   * The path the target redirected the POST to on its own origin (LiteLLM: 307 /mcp → /mcp/), and where the
   * probe then looked: the path to give a client, which saves it a redirect on every request.
   */
  mcpPath?: string;
}

interface Answer { status: number; type: string; body: string; location?: string }

function ask(url: URL, method: 'GET' | 'POST', headers: Record<string, string>, body: string | null, timeoutMs: number, insecure: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(url, { method, headers, timeout: timeoutMs, ...(insecure ? { rejectUnauthorized: false } : {}) }, (res) => {
      const type = String(res.headers['content-type'] ?? '');
      // An event stream never ends: its head is the answer.
      if (type.includes('text/event-stream')) {
        res.destroy();
        return resolve({ status: res.statusCode ?? 0, type, body: '', location: res.headers.location });
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (text.length < 4096) text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type, body: text, location: res.headers.location }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

/**
 * One look at the target when the proxy starts (directly, so it is not recorded): a JSON-RPC ping
 * POSTed where a Streamable HTTP client would, and a GET for a legacy event stream. A ping creates no
 * session on the server; a legacy stream is closed as soon as its head arrives.
 */
export async function probeTarget(target: Target, opts: { timeoutMs?: number; insecure?: boolean } = {}): Promise<TargetProbe> {
  const timeout = opts.timeoutMs ?? 1500;
  const at = (p: string) => new URL(target.url.origin + (target.prefix || p));
  const ping = JSON.stringify({ jsonrpc: '2.0', id: 'mcptap-probe', method: 'ping' });
  const [post, get] = await Promise.allSettled([
    ask(at('/mcp'), 'POST', { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, ping, timeout, !!opts.insecure),
    ask(at('/sse'), 'GET', { accept: 'text/event-stream' }, null, timeout, !!opts.insecure),
  ]);
  if (post.status === 'rejected' && get.status === 'rejected') {
    const e = post.reason as NodeJS.ErrnoException;
    return { reachable: false, error: e.code ?? e.message, transport: null };
  }
  let p = post.status === 'fulfilled' ? post.value : null;
  let mcpPath: string | undefined;
  const moved = p && p.status >= 301 && p.status <= 308 && p.location ? new URL(p.location, at('/mcp')) : null;
  if (moved && moved.origin === target.url.origin && !target.prefix) {
    // Followed once, as clients that follow redirects do: what is there is what they talk to.
    p = await ask(moved, 'POST', { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, ping, timeout, !!opts.insecure).catch(() => p);
    mcpPath = moved.pathname;
  }
  const g = get.status === 'fulfilled' ? get.value : null;
  const speaksHttp = p != null && (p.type.includes('text/event-stream') || (p.type.includes('json') && /"jsonrpc"/.test(p.body)));
  const speaksSse = g != null && g.status === 200 && g.type.includes('text/event-stream');
  return { reachable: true, transport: speaksHttp ? 'streamable-http' : speaksSse ? 'sse' : null, ...(p ? { postStatus: p.status } : {}), ...(mcpPath ? { mcpPath } : {}) };
}
