import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';

/** Listens on a free loopback port; the server (and its open connections) is closed by the closer it pushes. */
export async function serveClosing(closers: Array<() => Promise<void>>, server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => {
    (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close(() => r());
  }));
  return (server.address() as net.AddressInfo).port;
}

/** The tunnel a proxy-aware client makes: CONNECT host:port at the proxy, then TLS to the real name through it. */
export async function tlsThroughProxy(proxyPort: number, host: string, port: number, caPem: string): Promise<tls.TLSSocket> {
  const raw = net.connect(proxyPort, '127.0.0.1');
  await once(raw, 'connect');
  raw.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  const [answer] = await once(raw, 'data');
  if (!/^HTTP\/1\.1 200 /.test(String(answer))) throw new Error(`CONNECT refused: ${String(answer).split('\r\n')[0]}`);
  const secure = tls.connect({ socket: raw, servername: host, ca: caPem });
  await once(secure, 'secureConnect');
  return secure;
}
