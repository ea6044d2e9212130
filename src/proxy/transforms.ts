import type http from 'node:http';
import { isLiteLLMMcpRoute } from '../capture/gateway.js';
import type { HeaderList, Rewrite, RewriteKind } from '../model/model.js';
import { endpointTransform } from './endpoint-rewrite.js';
import { oauthChallengeTransform, oauthResourceTransform } from './oauth-rewrite.js';
import { proxiedUrl, type Target } from './target.js';

// Every change the proxy makes to what it passes on, as one list: each transform looks at its part of
// the exchange (the request's headers, a response header, the response body), changes it or leaves it,
// and records what it changed on the exchange as a Rewrite (kind, before, after). The forwarder
// (server.ts) only runs the list. When none applies, the bytes go on as they came.

/** What a transform knows of the exchange it may change, and where it records a change. */
export interface TransformContext {
  method: string;
  /** The path and query sent upstream (with the --target prefix). */
  path: string;
  target: Target;
  /** The proxy's URL for the root of the route's upstream (its `/s/NAME` prefix under routes). */
  proxyOrigin: string;
  /** The proxy route's path prefix (`/s/NAME`), '' for a single --target. */
  routeBase: string;
  /** The client's request headers, as Node parsed them. */
  requestHeaders: http.IncomingHttpHeaders;
  /** Records a change on the exchange (redacted there). */
  record(change: Rewrite): void;
}

/**
 * A response body a transform holds (part of, or whole) to change it. It lets go once by returning the
 * bytes to send; from then on the rest of the body is piped through untouched.
 */
export interface BodyRewriter {
  /** The response head waits for the body too (the change touches headers: Content-Length). */
  readonly holdsHead: boolean;
  /** A chunk of the body: the bytes to send once it lets go, or null while it holds. */
  feed(chunk: Buffer): Buffer | null;
  /** The body ended while held: the bytes to send. */
  end(): Buffer;
  /** The response head to send (when `holdsHead`), given the one that would have gone; asked once it let go. */
  head(out: string[]): string[];
}

export interface Transform {
  kind: RewriteKind;
  /** Changes the request's flat header list in place (recording what it did). */
  request?(ctx: TransformContext, headers: string[]): void;
  /** A response header's new value (recording what it did), or null to leave it. */
  responseHeader?(ctx: TransformContext, status: number, name: string, value: string): string | null;
  /** A rewriter for the response body, or null when this transform leaves it alone. */
  responseBody?(ctx: TransformContext, status: number, headers: HeaderList): BodyRewriter | null;
}

/**
 * `--gateway-debug`: asks LiteLLM what it resolved for each MCP request (servers, auth, upstream URL),
 * which it answers in `x-mcp-debug-*` response headers (LiteLLM 1.108; 1.77 ignores the header).
 */
export const gatewayDebugTransform: Transform = {
  kind: 'gateway-debug-header',
  request(ctx, headers) {
    if (!isLiteLLMMcpRoute(ctx.path)) return;
    for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === 'x-litellm-mcp-debug') return;
    headers.push('x-litellm-mcp-debug', 'true');
    ctx.record({ kind: 'gateway-debug-header', before: null, after: 'x-litellm-mcp-debug: true' });
  },
};

/**
 * A redirect to the upstream's own address (Starlette's /mcp → /mcp/) would take a client that follows
 * it past the proxy, and off the record: it is kept on the proxy, as a reverse proxy does.
 */
export const locationTransform: Transform = {
  kind: 'location',
  responseHeader(ctx, status, name, value) {
    if (status < 300 || status >= 400 || name.toLowerCase() !== 'location') return null;
    const to = proxiedUrl(ctx.target, value, ctx.proxyOrigin);
    if (to) ctx.record({ kind: 'location', before: value, after: to });
    return to;
  },
};

/** The transforms a proxy runs, in order; the ones that keep a client on the proxy are always on. */
export function transformsFor(opts: { gatewayDebug?: boolean; forward?: unknown }): TransformPipeline {
  // A forward proxy's client talks to the real origins: nothing it is sent needs to point back at the proxy.
  if (opts.forward) return new TransformPipeline(opts.gatewayDebug ? [gatewayDebugTransform] : []);
  return new TransformPipeline([...(opts.gatewayDebug ? [gatewayDebugTransform] : []), locationTransform, oauthChallengeTransform, oauthResourceTransform, endpointTransform]);
}

export class TransformPipeline {
  // Split by hook once: the forwarder asks for every header of every response.
  private readonly onRequest: Transform[];
  private readonly onHeader: Transform[];
  private readonly onBody: Transform[];

  constructor(readonly transforms: readonly Transform[]) {
    this.onRequest = transforms.filter((t) => t.request);
    this.onHeader = transforms.filter((t) => t.responseHeader);
    this.onBody = transforms.filter((t) => t.responseBody);
  }

  request(ctx: TransformContext, headers: string[]): void {
    for (const t of this.onRequest) t.request!(ctx, headers);
  }

  /** The response headers (a flat list) with each header the transforms change changed, in place. */
  responseHeaders(ctx: TransformContext, status: number, out: string[]): string[] {
    for (let i = 0; i + 1 < out.length; i += 2) {
      for (const t of this.onHeader) {
        const changed = t.responseHeader!(ctx, status, out[i], out[i + 1]);
        if (changed != null) out[i + 1] = changed;
      }
    }
    return out;
  }

  /** The first body rewriter that takes this response, or null: the body is piped as it comes. */
  responseBody(ctx: TransformContext, status: number, headers: HeaderList): BodyRewriter | null {
    for (const t of this.onBody) {
      const r = t.responseBody!(ctx, status, headers);
      if (r) return r;
    }
    return null;
  }
}
