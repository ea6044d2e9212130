import type http from 'node:http';
import zlib from 'node:zlib';
import { header, mediaType } from '../model/headers.js';
import type { HeaderList, Rewrite } from '../model/model.js';
import type { Interceptor } from './intercept.js';
import { SERVER_NO_ANSWER } from './sse-intercept.js';

// --hold with dir:s2c on a server answer sent as one application/json body (a Streamable HTTP server with
// JSON responses, the TS SDK's enableJsonResponse): the body is read whole, and when the message in it
// matches, the answer and its head wait together until it is forwarded (as it came, or edited: a new
// Content-Length) or dropped (the client gets mcptap's 502). A body that matches nothing goes on as it came.

const DECODERS: Record<string, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gunzipSync(b),
  'x-gzip': (b) => zlib.gunzipSync(b),
  deflate: (b) => zlib.unzipSync(b),
  br: (b) => zlib.brotliDecompressSync(b),
};

/** The text of a whole body as the client would read it; null when its encoding is not one we read. */
function bodyText(raw: Buffer, encoding: string | undefined): string | null {
  const coding = (encoding ?? 'identity').trim().toLowerCase();
  if (coding === 'identity' || coding === '') return raw.toString('utf8');
  const decode = DECODERS[coding];
  if (!decode) return null;
  try {
    return decode(raw).toString('utf8');
  } catch {
    return null;
  }
}

/** Whether the filter may hold this answer: it holds server messages, and this is a POST's JSON answer. */
export function holdsJsonAnswer(interceptor: Interceptor | undefined, method: string | undefined, headers: HeaderList): interceptor is Interceptor {
  return !!interceptor?.serverSide && method === 'POST' && mediaType(header(headers, 'content-type')) === 'application/json';
}

/** The response head without what described the old body, for an edited one. */
function headFor(out: string[], length: number): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < out.length; i += 2) {
    if (!/^(content-length|content-encoding|transfer-encoding)$/i.test(out[i])) kept.push(out[i], out[i + 1]);
  }
  return [...kept, 'Content-Length', String(length)];
}

/**
 * Reads the answer whole, and holds it when its message matches; the head (`out`, as the forwarder would
 * have sent it) is written only once the answer goes. `record`: a change on the exchange (before → after).
 */
export function holdJsonAnswer(
  interceptor: Interceptor, proxyRes: http.IncomingMessage, res: http.ServerResponse, status: number, out: string[], route: string,
  record: (change: Rewrite) => void,
): void {
  const chunks: Buffer[] = [];
  proxyRes.on('data', (c: Buffer) => chunks.push(c));
  proxyRes.on('end', () => {
    const raw = Buffer.concat(chunks);
    const text = bodyText(raw, proxyRes.headers['content-encoding']);
    const m = text == null ? null : interceptor.matchingServer(text);
    if (!m) {
      res.writeHead(status, proxyRes.statusMessage, out);
      return void res.end(raw);
    }
    const { id, verdict } = interceptor.hold(text!, m, route, SERVER_NO_ANSWER, 'server->client', 'json-answer');
    res.on('close', () => {
      if (!res.writableFinished) interceptor.abandon(id);
    });
    void verdict.then((v) => {
      if (res.destroyed) return;
      if (v.kind === 'forward' && !v.edited) {
        res.writeHead(status, proxyRes.statusMessage, out);
        return void res.end(raw);
      }
      if (v.kind === 'forward') {
        record({ kind: 'intercept-server-edit', before: text, after: v.body });
        const body = Buffer.from(v.body);
        res.writeHead(status, proxyRes.statusMessage, headFor(out, body.length));
        return void res.end(body);
      }
      record({ kind: 'intercept-drop', before: text, after: 'dropped at the intercept: the client got 502' });
      const body = JSON.stringify({ error: 'mcptap: the answer was dropped at the intercept (mcptap proxy --hold)' });
      res.writeHead(502, { 'content-type': 'application/json', 'x-mcptap-intercept': 'dropped' });
      res.end(body);
    });
  });
}
