import type { Duplex } from 'node:stream';

/**
 * Node's answers to a request its parser refused, so a client can tell a refusal from a crash: 431 for
 * headers over the limit, 400 for the rest (Content-Length with Transfer-Encoding, a header with
 * characters HTTP forbids, a broken chunk). Nothing of such a request is forwarded.
 */
const ANSWERS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/** A `clientError` handler that answers as Node's own server does, and warns once per kind of refusal. */
export function badRequestRefuser(warn: (line: string) => void): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  const told = new Set<string>();
  return (err, socket) => {
    // A connection reset while idle, or a request already answered: nothing left to say.
    if (err.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const status = ANSWERS[err.code ?? ''] ?? '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
    if (told.has(status)) return;
    told.add(status);
    warn(`refused a request the HTTP parser rejected, answered ${status} (${(err as { reason?: string }).reason ?? err.message}); further ones are answered the same without a word`);
  };
}
