import type { DecodeError, Exchange, Failure, FailureKind, Rewrite, RewriteKind, RpcMessage } from '../../model/model.js';
import { decodeErrorText, failureText, rewriteText } from '../../model/facts.js';
import { header, mediaType } from '../../model/headers.js';
import type { CheckInput, Claims, Evidence, Finding, Severity } from './types.js';

const views = new WeakMap<CheckInput, SessionView>();

/** Lookups every rule needs, built once per session: the rules of one run share it (see `of`). */
export class SessionView {
  readonly bySeq = new Map<number, RpcMessage>();
  readonly exchangeById = new Map<string, Exchange>();
  private http: Exchange[] | null = null;
  private byExchange: Map<string, RpcMessage[]> | null = null;

  private constructor(readonly input: CheckInput) {
    for (const m of input.messages) this.bySeq.set(m.seq, m);
    for (const e of input.exchanges) this.exchangeById.set(e.id, e);
  }

  /**
   * The view of a check input, made on first use. Each rule used to build its own, and live checks run
   * every rule over windows of 1,000 messages and exchanges: most of a round went into building maps.
   */
  static of(input: CheckInput): SessionView {
    let v = views.get(input);
    if (!v) views.set(input, (v = new SessionView(input)));
    return v;
  }

  get session() {
    return this.input.session;
  }

  exchangeOf(m: RpcMessage): Exchange | undefined {
    return m.exchangeId ? this.exchangeById.get(m.exchangeId) : undefined;
  }

  /** The client's initialize request and the server's answer, if any. */
  initialize(): { request?: RpcMessage; response?: RpcMessage } {
    // An initialize answered with a redirect was sent again where it pointed: that one is the handshake.
    const request = this.input.messages.find((m) => m.kind === 'request' && m.method === 'initialize' && m.direction === 'client->server' && !this.redirected(m));
    const response = request?.correlatedSeq != null ? this.bySeq.get(request.correlatedSeq) : undefined;
    return { request, response };
  }

  /** The message rode an exchange answered with a redirect (3xx): the server never saw it as a call. */
  redirected(m: RpcMessage): boolean {
    const status = this.exchangeOf(m)?.status;
    return status != null && status >= 300 && status < 400;
  }

  /** The messages an exchange carried, in seq order. */
  messagesOf(exchangeId: string): RpcMessage[] {
    if (!this.byExchange) {
      this.byExchange = new Map();
      for (const m of this.input.messages) {
        if (!m.exchangeId) continue;
        const list = this.byExchange.get(m.exchangeId);
        if (list) list.push(m);
        else this.byExchange.set(m.exchangeId, [m]);
      }
    }
    return this.byExchange.get(exchangeId) ?? [];
  }

  /** Seqs of the messages an exchange carried (a finding's evidence). */
  seqsOf(exchangeId: string): number[] {
    return this.messagesOf(exchangeId).map((m) => m.seq);
  }

  /** The exchanges the client sent (HTTP), in order. */
  requests(): Exchange[] {
    this.http ??= this.input.exchanges.filter((e) => e.kind === 'http');
    return this.http;
  }

  finding(ruleId: string, severity: Severity, title: string, ev: Partial<Omit<Evidence, 'sessionId'>>, explanation: string, fix: string,
    how: { claims?: Claims; confidence?: number } = {}): Finding {
    return {
      ruleId, severity, title,
      evidence: { sessionId: this.session.id, messageSeqs: ev.messageSeqs ?? [], exchangeIds: ev.exchangeIds ?? [] },
      explanation, fix,
      ...(how.claims ? { claims: how.claims } : {}),
      ...(how.confidence != null ? { confidence: how.confidence } : {}),
    };
  }

  /** An exchange and every message it carried: what a finding about the exchange as a whole explains. */
  exchangeClaims(e: Exchange): Claims {
    return { exchangeIds: [e.id], messageSeqs: this.seqsOf(e.id) };
  }

  /** The exchange carried the client's server/discover probe (2026-07-28), which a server may refuse: the client then falls back to initialize. */
  carriesProbe(e: Exchange): boolean {
    return this.messagesOf(e.id).some(isProbe);
  }

  /** The URL the client used (proxy-relative path) with the proxy origin unknown: shown as a path. */
  path(e: Exchange): string {
    return e.url.split('?')[0];
  }
}

/** A server/discover probe request: how a 2026-07-28 client finds out what the server speaks, before initialize. */
export const isProbe = (m: RpcMessage) => m.kind === 'request' && m.method === 'server/discover' && m.direction === 'client->server';

/**
 * The media type of a successful answer to a JSON-RPC request that is neither JSON nor an event stream
 * (a web page, "OK" in text/plain), or null.
 */
export function unexpectedAnswer(v: SessionView, e: Exchange): string | null {
  if (e.method !== 'POST' || e.status == null || e.status < 200 || e.status >= 300 || e.status === 202) return null;
  if (!e.responseBody || !/\S/.test(e.responseBody)) return null;
  if (!v.messagesOf(e.id).some((m) => m.direction === 'client->server' && m.kind === 'request')) return null;
  const type = resType(e);
  return type.includes('json') || type === 'text/event-stream' ? null : type || 'no Content-Type';
}

// What the capture recorded about an exchange or a message (src/model/facts.ts), read in one place.

/** mcptap answered the client itself (502) because the upstream could not be reached; the errno and reason, or null. */
export function upstreamUnreachable(e: Exchange): string | null {
  const f = failureOf(e, 'upstream-unreachable');
  return f ? failureText(f) : null;
}

/** The answer was mcptap's own, not the server's (the upstream failed or the proxy refused). */
export const answeredByProxy = (e: Exchange) => !!resHeader(e, 'x-mcptap-error') || e.failure?.kind === 'upstream-unreachable' || e.failure?.kind === 'upstream-tls';

/** The upstream closed the connection before its response was complete. */
export const cutMidResponse = (e: Exchange) => failureOf(e, 'body-cut')?.by === 'server';

/** mcptap rewrote a legacy endpoint event; the rewrite in words. */
export const endpointRewrite = (e: Exchange) => rewritesOf(e, 'sse-endpoint').map(rewriteText)[0] ?? null;
/** mcptap moved a URL of the answer onto the proxy other than an endpoint event (a Location, OAuth metadata). */
export const otherRewrite = (e: Exchange) => e.rewrites.some((r) => r.kind === 'location' || r.kind === 'oauth-challenge' || r.kind === 'oauth-resource');
/** mcptap rewrote a redirect's Location to stay on the proxy. */
export const locationRewritten = (e: Exchange) => rewrote(e, 'location');
/** mcptap rewrote the challenge's resource_metadata URL. */
export const metadataUrlRewritten = (e: Exchange) => rewrote(e, 'oauth-challenge');
/** The URL mcptap put in OAuth metadata's "resource", or undefined. */
export const movedResource = (e: Exchange) => rewritesOf(e, 'oauth-resource')[0]?.after;

/** The SSE event name JSON-RPC was sent under, when clients skip it (not "message"), or undefined. */
export const misnamedEvent = (m: RpcMessage) => decodeErrorOf(m, 'unread-sse-event') ?? undefined;

export { payloadJson as payload } from '../../model/payload.js';

export const reqHeader = (e: Exchange, name: string) => header(e.requestHeaders, name);
export const resHeader = (e: Exchange, name: string) => header(e.responseHeaders, name);
export const resType = (e: Exchange) => mediaType(resHeader(e, 'content-type'));

/** A line to paste into a shell to register the server with Claude Code. */
export function claudeAdd(transport: 'http' | 'sse', url: string): string {
  return `claude mcp add --transport ${transport} <name> ${url}`;
}

export function compareVersions(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The exchange's failure when it is of this kind (the fields of that kind typed), else null. */
export function failureOf<K extends FailureKind>(e: Exchange, kind: K): Extract<Failure, { kind: K }> | null {
  return e.failure?.kind === kind ? (e.failure as Extract<Failure, { kind: K }>) : null;
}

/** The changes of one kind the proxy made on this exchange, in order. */
export function rewritesOf(e: Exchange, kind: RewriteKind): Rewrite[] {
  return e.rewrites.filter((r) => r.kind === kind);
}

export const rewrote = (e: Exchange, kind: RewriteKind): boolean => e.rewrites.some((r) => r.kind === kind);

/** A message's decode error detail when it is of this kind, else null. */
export function decodeErrorOf(m: RpcMessage, kind: DecodeError['kind']): string | null {
  return m.decodeError?.kind === kind ? m.decodeError.detail : null;
}

/** The words for a message's decode error ('' when none). */
export const decodeErrorWords = (m: RpcMessage): string => (m.decodeError ? decodeErrorText(m.decodeError) : '');
