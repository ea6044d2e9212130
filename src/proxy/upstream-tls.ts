import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Failure } from '../model/model.js';
import { UsageError } from '../errors.js';

// Forward mode's upstream side: which CAs an upstream certificate may chain to (as Node verifies: its own roots,
// NODE_EXTRA_CA_CERTS, and --upstream-ca), and a request that checks the certificate itself so that a refusal
// records what was wrong with it (subject, issuer, validity) instead of Node's bare error code.

export interface UpstreamTls {
  /** Every CA certificate (PEM) an upstream may chain to; undefined: Node's defaults. */
  ca?: string[];
  insecure?: boolean;
}

/** Node's roots plus NODE_EXTRA_CA_CERTS (Node adds it only to its default store) plus `--upstream-ca` files. */
export function upstreamCas(extraFiles: string[] = []): string[] {
  const out = [...tls.rootCertificates];
  const files = [...(process.env.NODE_EXTRA_CA_CERTS ? [process.env.NODE_EXTRA_CA_CERTS] : []), ...extraFiles];
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (e) {
      if (extraFiles.includes(f)) throw new UsageError(`--upstream-ca ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      continue;
    }
    const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (!certs.length && extraFiles.includes(f)) throw new UsageError(`--upstream-ca ${f}: no PEM certificate in it`);
    out.push(...certs);
  }
  return out;
}

const contexts = new WeakMap<string[], tls.SecureContext>();

/**
 * One TLS context holding the CAs an upstream may chain to, made once per list and shared by every connection.
 * Given as `ca` instead, every new connection parses the ~150 certificates again (about 50 ms), and an https
 * agent joins them into its pool key on every request.
 */
export function caContext(ca: string[]): tls.SecureContext {
  let c = contexts.get(ca);
  if (!c) contexts.set(ca, (c = tls.createSecureContext({ ca })));
  return c;
}

/** Where a socket came from in forward mode: the origin of the CONNECT tunnel it carries. */
const TUNNEL_ORIGIN = Symbol('mcptap.tunnelOrigin');

export function markTunnel(socket: Socket, origin: string): void {
  (socket as unknown as Record<symbol, string>)[TUNNEL_ORIGIN] = origin;
}

/** The upstream origin and path of a forward-mode request: absolute-form, or inside a CONNECT tunnel. */
export function forwardOriginOf(url: string, socket?: Socket): { origin: string; path: string } | null {
  if (/^https?:\/\//i.test(url)) {
    try {
      const u = new URL(url);
      return { origin: u.origin, path: (u.pathname || '/') + u.search };
    } catch {
      return null;
    }
  }
  const origin = socket ? (socket as unknown as Record<symbol, string | undefined>)[TUNNEL_ORIGIN] : undefined;
  if (!origin || !url.startsWith('/')) return null;
  return { origin, path: url };
}

/** An upstream certificate refused; carries what the certificate said. */
export class UpstreamCertError extends Error {
  constructor(readonly code: string, readonly host: string, readonly cert: { subject: string; issuer: string; validFrom: string; validTo: string }) {
    super(`the certificate of ${host} was refused: ${code}`);
  }
}

function dn(x: tls.Certificate | undefined): string {
  if (!x) return '';
  return Object.entries(x).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`).join(', ');
}

/**
 * https.request whose agent does not reject (rejectUnauthorized: false) and which refuses an unauthorised
 * certificate itself, in the first `secureConnect` listener: the same point at which Node's own check destroys
 * the socket, before any request byte is written.
 */
export const verifiedHttpsRequest = ((options: https.RequestOptions, cb?: (res: http.IncomingMessage) => void) => {
  const req = https.request(options, cb);
  req.on('socket', (sock) => {
    const s = sock as tls.TLSSocket;
    if (!s.connecting && s.authorized) return;
    s.once('secureConnect', () => {
      if (s.authorized) return;
      const c = s.getPeerCertificate();
      const host = String(options.servername ?? options.hostname ?? options.host ?? '');
      req.destroy(new UpstreamCertError(String(s.authorizationError ?? 'UNAUTHORIZED'), host, { subject: dn(c?.subject), issuer: dn(c?.issuer), validFrom: c?.valid_from ?? '', validTo: c?.valid_to ?? '' }));
      s.destroy();
    });
  });
  return req;
}) as unknown as typeof http.request;

/** The failure a forwarding error records: an upstream certificate refused, or the upstream not reached. */
export function upstreamFailureOf(err: NodeJS.ErrnoException): Failure {
  if (err instanceof UpstreamCertError) return { kind: 'upstream-tls', code: err.code, host: err.host, ...err.cert };
  return { kind: 'upstream-unreachable', code: err.code ?? 'ERROR', message: err.message };
}
