import type { Exchange, RpcMessage } from '../model/model.js';

/** Quotes a word for a POSIX shell when it needs it, so a printed command pastes as it is. */
export function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/** Headers a curl command sets itself, or that describe the proxy's connection rather than the request. */
const CURL_OWN = /^(host|connection|keep-alive|content-length|transfer-encoding|accept-encoding|proxy-connection)$/i;

/** The SSE events of a stored stream copy, each as its lines. */
function sseEvents(body: string): string[][] {
  return body.split(/\r?\n\r?\n|\r\r/).map((block) => block.split(/\r?\n|\r/)).filter((lines) => lines.some((l) => l.trim()));
}

function dataOf(lines: string[]): string {
  return lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
}

/**
 * The message as it went over the wire: the SSE event (event name, id, data lines) found in the
 * exchange's stored stream, the WebSocket text frame, or the HTTP body with its request or status line.
 */
export function wireLines(m: RpcMessage, ex: Exchange | null): string[] {
  if (m.channel === 'response-sse' || m.channel === 'get-sse') {
    const found = ex?.responseBody ? sseEvents(ex.responseBody).find((ev) => (m.sseEventId != null ? ev.includes(`id: ${m.sseEventId}`) || ev.includes(`id:${m.sseEventId}`) : false) || dataOf(ev) === m.payload) : undefined;
    if (found) return [`SSE event on ${ex!.method} ${ex!.url} (as stored):`, ...found.map((l) => '  ' + l)];
    const cut = ex?.responseTruncated ? 'the stored copy of the stream was cut at --max-stream-body' : 'not in the stored copy of the stream';
    return [`SSE event on ${ex ? `${ex.method} ${ex.url}` : 'the stream'} (rebuilt: ${cut}):`, '  event: message', ...(m.sseEventId != null ? [`  id: ${m.sseEventId}`] : []), ...m.payload.split('\n').map((l) => `  data: ${l}`)];
  }
  if (m.channel === 'ws-frame') {
    const dir = m.direction === 'client->server' ? 'client → server, masked' : 'server → client';
    return [`WebSocket text frame (${dir}), ${m.size} bytes${m.batchIndex != null ? `, member ${m.batchIndex} of a batch` : ''}:`, '  ' + m.payload];
  }
  if (!ex) return ['(no HTTP exchange recorded for this message)', '  ' + m.payload];
  if (m.channel === 'request-body') {
    return [`${ex.method} ${ex.url}`, ...ex.requestHeaders.map(([k, v]) => `${k}: ${v}`), '', ...(ex.requestBody ?? m.payload).split('\n')];
  }
  return [`HTTP ${ex.status ?? '—'}`, ...(ex.responseHeaders ?? []).map(([k, v]) => `${k}: ${v}`), '', ...(ex.responseBody ?? m.payload).split('\n')];
}

/** The HTTP exchange's request as a curl command against the upstream; recorded (redacted) headers as they are. */
export function curlCommand(ex: Exchange): string {
  const parts = ['curl', '-sS', '-N', '-X', ex.method, shellWord(ex.upstreamUrl)];
  for (const [k, v] of ex.requestHeaders) if (!CURL_OWN.test(k)) parts.push('-H', shellWord(`${k}: ${v}`));
  if (ex.requestBody != null && ex.requestBody !== '') parts.push('--data-binary', shellWord(ex.requestBody));
  return parts.join(' ');
}
