import http from 'node:http';

export type ProxyState = 'running' | 'not running' | 'port taken by something else';

/**
 * Whether an mcptap proxy serving routes listens on the port: it answers a path under no route itself,
 * with `x-mcptap-error: no-route`, without forwarding anything.
 */
export function proxyRunning(port: number, timeoutMs = 2000): Promise<ProxyState> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/.mcptap/status', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.headers['x-mcptap-error'] === 'no-route' ? 'running' : 'port taken by something else');
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED' ? 'not running' : 'port taken by something else'));
  });
}
