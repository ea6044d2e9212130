import http from 'node:http';
import { Readable } from 'node:stream';

/**
 * A fetch over a node:http Agent: a client whose connection pool is as small as the agent's maxSockets
 * (keep-alive, so a freed connection is reused, as undici's pool does). Enough of fetch for the SDK's
 * Streamable HTTP client: method, headers, a string body, an abort signal, a streamed response body.
 */
export function poolFetch(agent: http.Agent): (url: string | URL, init?: RequestInit) => Promise<Response> {
  return (url, init) => new Promise<Response>((resolve, reject) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const req = http.request(new URL(url), { method: init?.method ?? 'GET', headers, agent }, (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v != null) h.set(k, Array.isArray(v) ? v.join(', ') : v);
      const empty = res.statusCode === 204 || res.statusCode === 304;
      if (empty) res.resume();
      resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream), { status: res.statusCode, statusText: res.statusMessage, headers: h }));
    });
    req.on('error', reject);
    init?.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')), { once: true });
    req.end(typeof init?.body === 'string' ? init.body : undefined);
  });
}
