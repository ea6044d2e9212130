import type http from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The listening port is reachable from every web page the user opens: a page on a name it controls can
 * re-point that name at 127.0.0.1 (DNS rebinding) and then talk to the proxy as a same-origin page. The
 * proxy rewrites `Host` to the upstream's, so an upstream's own rebinding defence never sees the page's
 * name: the check has to happen here. As the MCP SDK does, the Host's name (any port) must be one of the
 * proxy's own; a browser's `Origin`, when sent, must be a local page. Anything else is refused with 403
 * before a byte goes upstream.
 */
export interface PortGuardOptions {
  /** The address the proxy listens on (`--host`): its name is one of the proxy's own. */
  host: string;
  /** More Host names to accept (`--allow-host`), e.g. a name in /etc/hosts or a LAN address. */
  allowHosts?: string[];
  /** More browser origins to accept (`--allow-origin`), e.g. `https://inspector.example`. */
  allowOrigins?: string[];
}

export type PortGuard = (req: http.IncomingMessage) => string | null;

const LOCAL_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** The hostname of a Host header or origin's authority, lower-case, IPv6 in brackets; null when unreadable. */
function hostnameOf(authority: string, scheme = 'http'): string | null {
  try {
    return new URL(`${scheme}://${authority}`).hostname.toLowerCase();
  } catch {
    return null;
  }
}

/** `::1` and `[::1]` alike, as URL spells a hostname. */
function asHostname(name: string): string {
  const n = name.trim().toLowerCase();
  return n.includes(':') && !n.startsWith('[') ? `[${n}]` : n;
}

/** A check of a request's Host and Origin: the reason it is refused, or null to serve it. */
export function portGuard(opts: PortGuardOptions): PortGuard {
  // A wildcard listening address names no host of its own: only the local names and --allow-host.
  const own = ['0.0.0.0', '::', ''].includes(opts.host) ? [] : [asHostname(opts.host)];
  const hosts = new Set([...LOCAL_NAMES, ...own, ...(opts.allowHosts ?? []).map(asHostname)]);
  const origins = new Set((opts.allowOrigins ?? []).map((o) => o.trim().replace(/\/+$/, '').toLowerCase()));
  return (req) => {
    const hostHeader = req.headers.host;
    if (!hostHeader) return 'the request has no Host header';
    const name = hostnameOf(hostHeader);
    if (name === null || !hosts.has(name)) return `Host '${hostHeader}' is not this proxy's address (allow it with --allow-host ${name ?? 'NAME'})`;
    const origin = req.headers.origin;
    if (origin === undefined) return null;
    const normal = origin.trim().replace(/\/+$/, '').toLowerCase();
    if (origins.has(normal)) return null;
    const m = /^(https?):\/\/(.+)$/.exec(normal);
    const originHost = m ? hostnameOf(m[2], m[1]) : null;
    if (originHost !== null && hosts.has(originHost)) return null;
    return `Origin '${origin}' is not a local page (allow it with --allow-origin ${origin})`;
  };
}

/** The 403 for a refused request; its body says why, as JSON-RPC (what an MCP client reads). */
function refusalBody(reason: string): string {
  return JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: `mcptap: forbidden: ${reason}` }, id: null });
}

/**
 * The guard as the servers use it: `request` and `upgrade` answer a refused request with 403 and return
 * true (the caller stops there). One warning per refused name, so a page retrying in a loop does not fill
 * the terminal; `refused` counts them all.
 */
export class PortGate {
  private readonly check: PortGuard;
  private readonly told = new Set<string>();
  refused = 0;

  constructor(opts: PortGuardOptions, private readonly warn: (m: string) => void) {
    this.check = portGuard(opts);
  }

  request(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const reason = this.refuse(req);
    if (reason === null) return false;
    req.resume();
    res.writeHead(403, { 'content-type': 'application/json', 'x-mcptap-error': 'forbidden-host', connection: 'close' });
    res.end(refusalBody(reason));
    return true;
  }

  upgrade(req: http.IncomingMessage, socket: Duplex): boolean {
    const reason = this.refuse(req);
    if (reason === null) return false;
    socket.on('error', () => {});
    const body = refusalBody(reason);
    socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nx-mcptap-error: forbidden-host\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    return true;
  }

  /** Why the request is refused (warned and counted), or null to serve it: for servers that answer it themselves. */
  refuse(req: http.IncomingMessage): string | null {
    const reason = this.check(req);
    if (reason === null) return null;
    this.refused++;
    if (this.told.size < 100 && !this.told.has(reason)) {
      this.told.add(reason);
      this.warn(`refused a request with 403: ${reason}`);
    }
    return reason;
  }
}
