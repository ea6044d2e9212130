import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { UsageError } from '../errors.js';
import { parseTarget, type Target } from './target.js';
import { caContext, forwardOriginOf, verifiedHttpsRequest, type UpstreamTls } from './upstream-tls.js';

/** Where a request goes upstream, and the pooled connections that carry it. */
export interface Upstream {
  target: Target;
  request: typeof http.request;
  hostname: string;
  port: number;
  /** The Host header upstream. */
  host: string;
  agent: http.Agent;
}

export interface Route {
  /** '' for the proxy's single --target. */
  name: string;
  /** The proxy's path prefix for this route: `/s/NAME`, or '' for a single target. */
  base: string;
  upstream: Upstream;
}

export interface RouteMatch {
  route: Route;
  /** The request's path and query below the route's prefix, from '/'. */
  path: string;
}

/** The port `mcptap claude install` gives the proxy unless told. */
export const DEFAULT_ROUTES_PORT = 8808;

/** A route name as it appears in a URL path segment (Claude Code server names are of this shape). */
export const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function makeUpstream(target: Target, insecure: boolean, tlsOpts?: UpstreamTls): Upstream {
  const secure = target.url.protocol === 'https:';
  const verified = secure && tlsOpts && !insecure;
  return {
    target,
    request: verified ? verifiedHttpsRequest : secure ? https.request : http.request,
    hostname: target.url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(target.url.port) || (secure ? 443 : 80),
    host: target.url.host,
    // A verified upstream checks the certificate itself (verifiedHttpsRequest), to record what was wrong with it.
    // Its CAs go in as one context made once (caContext), not as `ca`.
    agent: verified ? new https.Agent({ keepAlive: true, rejectUnauthorized: false, ...(tlsOpts.ca ? { secureContext: caContext(tlsOpts.ca) } : {}) }) : secure ? new https.Agent({ keepAlive: true, rejectUnauthorized: !insecure }) : new http.Agent({ keepAlive: true }),
  };
}

/** A route segment as named; a malformed percent-escape names no route (decodeURIComponent would throw). */
function routeName(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}

const WELL_KNOWN = /^\/\.well-known\/([^/?]+)(\/s\/([^/?]+))([^?]*)(\?.*)?$/;

/**
 * The proxy's upstreams: one --target for every path, or several named ones under `/s/NAME/…`, so that
 * one proxy on one port can stand in front of every server Claude Code uses. The one place that decides
 * which upstream a request path belongs to.
 */
export class RouteTable {
  private constructor(private readonly routes: Map<string, Route>, readonly single: Route | null, private readonly forwardTls: UpstreamTls | null = null) {}

  /**
   * Forward mode (`proxy --forward`): the upstream is the origin the client asked for, in an absolute-form
   * request (`GET http://host/path`) or as the CONNECT tunnel its request came through. Routes are made per
   * origin on first use.
   */
  static forward(tlsOpts: UpstreamTls, insecure = false): RouteTable {
    return new RouteTable(new Map(), null, { ...tlsOpts, insecure });
  }

  get isForward(): boolean {
    return !!this.forwardTls;
  }

  static single(target: Target, insecure = false): RouteTable {
    return new RouteTable(new Map(), { name: '', base: '', upstream: makeUpstream(target, insecure) });
  }

  /** Named routes, name → target URL. */
  static named(routes: Record<string, string>, insecure = false): RouteTable {
    const map = new Map<string, Route>();
    for (const [name, url] of Object.entries(routes)) {
      if (!ROUTE_NAME.test(name)) throw new UsageError(`route name '${name}' must be letters, digits, '.', '_' or '-'`);
      let target: Target;
      try {
        target = parseTarget(url);
      } catch (e) {
        throw new UsageError(`route '${name}': ${(e as Error).message.replace(/^--target /, 'target ')}`);
      }
      map.set(name, { name, base: `/s/${name}`, upstream: makeUpstream(target, insecure) });
    }
    if (!map.size) throw new UsageError('no routes to serve: run `mcptap claude install`, or give --target');
    return new RouteTable(map, null);
  }

  list(): Route[] {
    return this.single ? [this.single] : [...this.routes.values()];
  }

  /**
   * The route of a request path, or null when it names none. OAuth discovery built from a route's URL
   * (RFC 9728 puts the well-known segment before the resource's path: `/.well-known/X/s/NAME/mcp`) goes
   * to that route as `/.well-known/X/mcp`.
   */
  match(url: string, socket?: Socket): RouteMatch | null {
    if (this.single) return { route: this.single, path: url.startsWith('/') ? url : '/' + url };
    if (this.forwardTls) return this.matchForward(url, socket);
    const wk = WELL_KNOWN.exec(url);
    if (wk) {
      const route = this.routes.get(routeName(wk[3]));
      return route ? { route, path: `/.well-known/${wk[1]}${wk[4]}${wk[5] ?? ''}` } : null;
    }
    const m = /^\/s\/([^/?]+)(.*)$/s.exec(url);
    if (!m) return null;
    const route = this.routes.get(routeName(m[1]));
    if (!route) return null;
    const rest = m[2];
    return { route, path: rest === '' || rest.startsWith('?') ? '/' + rest : rest };
  }

  private matchForward(url: string, socket?: Socket): RouteMatch | null {
    const at = forwardOriginOf(url, socket);
    if (!at) return null;
    let route = this.routes.get(at.origin);
    if (!route) {
      let target: Target;
      try {
        target = parseTarget(at.origin);
      } catch {
        return null;
      }
      route = { name: target.url.host, base: '', upstream: makeUpstream(target, !!this.forwardTls!.insecure, this.forwardTls!) };
      this.routes.set(at.origin, route);
    }
    return { route, path: at.path };
  }

  /** The one-line answer for a path that names no route. */
  unknown(url: string): string {
    if (this.forwardTls) return `mcptap: ${url.split('?')[0]} is not a proxy request: this is a forward proxy (set HTTPS_PROXY/HTTP_PROXY to it; mcptap claude env --forward prints the lines)`;
    const names = [...this.routes.keys()].map((n) => `/s/${n}/`).join(', ');
    return `mcptap: ${url.split('?')[0]} is not under a route of this proxy; its routes are ${names}`;
  }

  destroy(): void {
    for (const r of this.list()) r.upstream.agent.destroy();
  }
}
