import http from 'node:http';

export type ProxyState = 'running' | 'not running' | 'port taken by something else';

export interface ProxyProbe {
  state: ProxyState;
  /** The route names the running proxy serves (it reads the routes file when it starts). */
  routes: string[];
}

/**
 * Whether an mcptap proxy serving routes listens on the port: it answers a path under no route itself,
 * with `x-mcptap-error: no-route` and the routes it serves, without forwarding anything.
 */
export function probeProxy(port: number, timeoutMs = 2000): Promise<ProxyProbe> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/.mcptap/status', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.length < 64 * 1024 ? c : ''));
      res.on('end', () => {
        if (res.headers['x-mcptap-error'] !== 'no-route') return resolve({ state: 'port taken by something else', routes: [] });
        const routes = [...body.matchAll(/\/s\/([^/,\s"]+)\//g)].map((m) => m[1]);
        resolve({ state: 'running', routes });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ state: e.code === 'ECONNREFUSED' ? 'not running' : 'port taken by something else', routes: [] }));
  });
}
