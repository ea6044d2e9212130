import type http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { CaptureEngine } from '../capture/engine.js';
import { startHttpCapture } from '../capture/client-facts.js';
import type { HttpExchangeCapture } from '../capture/http-exchange.js';
import { now } from '../model/clock.js';
import type { Failure, HeaderList } from '../model/model.js';
import { failureText } from '../model/facts.js';
import type { LeafIssuer } from './ca.js';
import { markTunnel } from './upstream-tls.js';

// Forward mode's CONNECT handling (`proxy --forward`): a tunnel to a host the user wants to see is intercepted
// (TLS ended with a leaf certificate from mcptap's CA, the requests inside handed to the proxy's own HTTP server,
// which forwards and captures them as in reverse mode), any other tunnel is relayed blind (host, port, bytes and
// times recorded, nothing decrypted).

export interface InterceptPolicy {
  /** Every host. */
  all: boolean;
  /** Host names (lower case) or `*.suffix` patterns to intercept. */
  hosts: string[];
  /** Always tunnelled blind, whatever else says. */
  passthrough: string[];
}

/** The model API hosts Claude Code and the SDKs talk to: intercepted unless `--passthrough`. */
export const MODEL_API_HOSTS = ['api.anthropic.com', 'api.openai.com'];

const nameMatches = (host: string, pattern: string) =>
  pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern;

export function intercepts(policy: InterceptPolicy, host: string): boolean {
  const h = host.toLowerCase();
  if (policy.passthrough.some((p) => nameMatches(h, p))) return false;
  return policy.all || policy.hosts.some((p) => nameMatches(h, p));
}

/** `host:port` of a CONNECT line, or a reason it is not one. */
export function parseAuthority(authority: string): { host: string; port: number } | string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/\s[\]]+):(\d{1,5})$/.exec(authority);
  if (!m) return `'${authority.slice(0, 80)}' is not host:port`;
  const host = m[1].replace(/^\[(.*)\]$/, '$1');
  const port = Number(m[2]);
  if (host.length > 253) return `the host name is ${host.length} characters (at most 253)`;
  if (!net.isIP(host) && !/^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/.test(host)) return `'${host.slice(0, 80)}' is not a host name`;
  if (port < 1 || port > 65535) return `port ${port} is out of range`;
  return { host, port };
}

export interface ForwardDeps {
  engine: CaptureEngine;
  issuer: LeafIssuer;
  policy: InterceptPolicy;
  /** The proxy's HTTP server: a socket that carries HTTP is handed to it as if a client had connected. */
  server: http.Server;
  /** Sockets to close when the proxy stops. */
  track(socket: net.Socket): void;
  counters: { tunnels: number; intercepted: number };
  /** Told once per host that the policy would decrypt but the CA's name constraints do not cover. */
  warn?: (message: string) => void;
}

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\nProxy-Agent: mcptap\r\n\r\n';

function refuse(socket: net.Socket, status: number, reason: string, kind: string, message: string): void {
  const body = JSON.stringify({ error: `mcptap: ${message}` });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nx-mcptap-error: ${kind}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Records one CONNECT as an exchange: the tunnel itself (blind tunnels), or a TLS handshake the client refused. */
class TunnelRecord {
  private readonly cap: HttpExchangeCapture;

  constructor(private readonly engine: CaptureEngine, req: http.IncomingMessage, authority: string, at: number) {
    this.cap = startHttpCapture(req, at)(engine, { route: 'connect', url: authority, upstreamUrl: `tcp://${authority}`, target: `tcp://${authority}`, routeName: null });
    this.cap.requestEnd();
  }

  established(at: number): void {
    this.engine.queue.push(() => this.cap.responseHead(200, [['proxy-agent', 'mcptap']], at));
  }

  closed(up: number, down: number, by: 'client' | 'server', at: number): void {
    this.engine.queue.push(() => this.cap.tunnelClosed(up, down, by, at));
  }

  failed(status: number, failure: Failure, at: number): void {
    const headers: HeaderList = [['content-type', 'application/json'], ['x-mcptap-error', failure.kind]];
    this.engine.queue.push(() => this.cap.answeredByProxy(status, headers, JSON.stringify({ error: failureText(failure) }), failure, at));
  }

  refusedTls(failure: Failure, at: number): void {
    this.engine.queue.push(() => {
      this.cap.responseHead(200, [['proxy-agent', 'mcptap']], at);
      this.cap.fail(failure, at);
    });
  }
}

/** The `connect` listener of the proxy's HTTP server in forward mode. */
export function connectHandler(deps: ForwardDeps): (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void {
  // Sockets that carried at least one request: a decrypted tunnel closed before any tells of a refused certificate.
  const used = new WeakSet<net.Socket>();
  deps.server.on('request', (req: http.IncomingMessage) => used.add(req.socket));
  const accept = (s: net.Socket) => deps.server.emit('connection', s);
  const toldOutside = new Set<string>();
  /** A leaf for a name outside the CA's constraints would be refused by the client: such a host goes through blind. */
  const outside = (host: string) => {
    if (deps.issuer.permits(host)) return false;
    const h = host.toLowerCase();
    if (!toldOutside.has(h) && toldOutside.size < 1000) {
      toldOutside.add(h);
      deps.warn?.(`${host} is outside the names mcptap's CA may sign for (${deps.issuer.names().join(', ')}): tunnelled, not decrypted; to see it, mcptap ca --reset --constrain with it added`);
    }
    return true;
  };
  return (req, socket, head) => {
    const t0 = now();
    deps.track(socket);
    // As the proxy's own server does for its clients: small JSON-RPC writes go out at once.
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    const authority = req.url ?? '';
    const parsed = parseAuthority(authority);
    if (typeof parsed === 'string') return void refuse(socket, 400, 'Bad Request', 'bad-connect', `CONNECT ${parsed}`);
    const rec = new TunnelRecord(deps.engine, req, authority, t0);
    if (!intercepts(deps.policy, parsed.host) || outside(parsed.host)) return void tunnel(deps, rec, socket, head, parsed);
    deps.counters.intercepted++;
    socket.write(ESTABLISHED);
    const start = (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first[0] === 0x16) return void terminateTls(deps, rec, socket, parsed, accept, used);
      // Plain HTTP inside the tunnel (a client that CONNECTs to port 80): the proxy's server reads it as is.
      if (/^[A-Z]{3,10} /.test(first.subarray(0, 11).toString('latin1'))) {
        markTunnel(socket, `http://${authority}`);
        accept(socket);
        socket.resume();
        return;
      }
      // Neither TLS nor HTTP: nothing mcptap can read, so it goes through blind.
      tunnel(deps, rec, socket, Buffer.alloc(0), parsed, true);
    };
    if (head.length) start(head);
    else socket.once('data', start);
  };
}

function terminateTls(deps: ForwardDeps, rec: TunnelRecord, socket: net.Socket, at: { host: string; port: number }, accept: (s: net.Socket) => void, used: WeakSet<net.Socket>): void {
  deps.issuer.context(at.host).then((secureContext) => {
    if (socket.destroyed) return;
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext,
      // Only what the proxy speaks: a client that insists on h2 fails the handshake rather than being misread.
      ALPNProtocols: ['http/1.1'],
      // The name the client asked for; the CONNECT host's leaf for a name the CA may not sign for.
      SNICallback: (name, cb) => {
        deps.issuer.context(name && deps.issuer.permits(name) ? name : at.host).then((c) => cb(null, c), (e: Error) => cb(e));
      },
    });
    let ok = false;
    let established = false;
    secure.once('secure', () => {
      established = true;
      markTunnel(secure, `https://${at.host}${at.port === 443 ? '' : `:${at.port}`}`);
      accept(secure);
    });
    // A client that refuses the certificate sends an alert (an error here) or just hangs up (a close).
    const refused = (detail: string) => {
      if (ok || used.has(secure)) return;
      ok = true;
      rec.refusedTls({ kind: 'client-tls-refused', host: at.host, detail }, now());
    };
    secure.on('error', (e: NodeJS.ErrnoException) => {
      // OpenSSL's text carries its source position: keep the alert's name.
      const alert = /alert ([a-z ]+?)(?::|$)/i.exec(e.message)?.[1]?.trim();
      refused(alert && /unknown ca|bad certificate|certificate unknown/i.test(alert)
        ? `TLS alert "${alert}": it does not trust mcptap's CA`
        : alert ? `TLS alert "${alert}"` : e.code ?? (e.message.trim() || 'TLS handshake failed'));
      secure.destroy();
    });
    // Node's TLS client checks the certificate only once the handshake is done, then hangs up without an alert.
    const hungUp = () => {
      if (used.has(secure)) return;
      refused(`it hung up ${established ? 'right after the TLS handshake, before any request' : 'during the TLS handshake'} with no alert: Node clients do this when they do not trust the certificate, so most likely it does not trust mcptap's CA`);
      secure.destroy();
    };
    secure.once('end', hungUp);
    secure.once('close', hungUp);
    socket.resume();
  }, (e: Error) => {
    rec.failed(502, { kind: 'other', detail: `no certificate for ${at.host}: ${e.message}` }, now());
    socket.destroy();
  });
}

function tunnel(deps: ForwardDeps, rec: TunnelRecord, socket: net.Socket, head: Buffer, at: { host: string; port: number }, established = false): void {
  deps.counters.tunnels++;
  let up = head.length;
  let down = 0;
  let connected = false;
  let closedBy: 'client' | 'server' | null = null;
  const upstream = net.connect({ host: at.host, port: at.port });
  deps.track(upstream);
  upstream.setNoDelay(true);
  upstream.once('connect', () => {
    connected = true;
    if (!established) socket.write(ESTABLISHED);
    rec.established(now());
    if (head.length) upstream.write(head);
    socket.on('data', (c: Buffer) => { up += c.length; });
    upstream.on('data', (c: Buffer) => { down += c.length; });
    socket.pipe(upstream);
    upstream.pipe(socket);
    socket.resume();
  });
  upstream.on('error', (e: NodeJS.ErrnoException) => {
    if (!connected) {
      const failure: Failure = { kind: 'upstream-unreachable', code: e.code ?? 'ERROR', message: e.message };
      rec.failed(502, failure, now());
      if (established) socket.destroy();
      else refuse(socket, 502, 'Bad Gateway', failure.kind, `CONNECT ${at.host}:${at.port}: ${failureText(failure)}`);
      return;
    }
    closedBy ??= 'server';
    socket.destroy();
  });
  socket.on('end', () => { closedBy ??= 'client'; });
  upstream.on('end', () => { closedBy ??= 'server'; });
  socket.on('close', () => {
    closedBy ??= 'client';
    upstream.destroy();
  });
  upstream.on('close', () => {
    if (!connected) return;
    closedBy ??= 'server';
    socket.destroy();
    rec.closed(up, down, closedBy, now());
  });
}
