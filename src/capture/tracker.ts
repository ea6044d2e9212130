import type { CaptureHub } from './hub.js';
import type { Channel, Direction, Exchange, RpcMessage, Session, Transport } from '../model/model.js';
import type { DecodedMessage } from '../wire/jsonrpc.js';
import { newSessionId } from '../model/ids.js';
import { header } from '../model/headers.js';
import { utf8Prefix } from '../wire/utf8.js';
import { isOAuthDiscoveryPath } from '../wire/oauth-paths.js';
import { clientIdentity, DISCOVER, serverIdentity } from '../wire/mcp-2026.js';
import { LITELLM_OUTCOMES_META, LITELLM_SEPARATOR, LITELLM_SERVER_NAME, listedPrefixes, recogniseGateway, selectedServers, type ServerSelection } from './gateway.js';

export interface TrackerOptions {
  target: string;
  label: string | null;
  /** Stored payload cap in bytes. */
  maxBody: number;
  /** Scrubs secrets out of payload text before it is stored. */
  scrub: (text: string) => string;
  /** A session idle this long with no exchange open is forgotten (default IDLE_FORGET_MS). */
  idleForgetMs?: number;
}

/**
 * How long an HTTP session with nothing open and nothing sent is remembered. Clients rarely send DELETE
 * (Claude Code does not), so a long-running proxy would otherwise hold every session it ever saw, with
 * its requests never answered. Forgetting writes nothing: the stored session just gets no more traffic,
 * and a client that comes back after this with the same Mcp-Session-Id is picked up as a session joined late.
 */
export const IDLE_FORGET_MS = 30 * 60_000;

/** Requests cancelled (notifications/cancelled) remembered per session, so that a late answer still pairs. */
const CANCELLED_KEPT = 64;

interface SessionState {
  session: Session;
  nextSeq: number;
  /** Requests waiting for their response, keyed by direction of the request + JSON id. */
  pending: Map<string, RpcMessage>;
  /** Requests their sender cancelled, newest last: no longer waiting, but a late answer still pairs with one. */
  cancelled: Map<string, RpcMessage>;
  /** Exchanges placed in it that have not finished (an open stream keeps a quiet session remembered). */
  openExchanges: number;
  initializeSeen: boolean;
  lastActivity: number;
  /** The path a Streamable HTTP session POSTs its messages to. */
  endpointPath: string | null;
  /** The upstream servers its initialize selected on a gateway (path or x-mcp-servers). */
  selection: ServerSelection | null;
  /** While it holds nothing but probes: which kind (a client retrying one joins it; its initialize takes it over). */
  probe: ProbeKind | null;
  /** An initialize answer named the revision: nothing the client says later changes it. */
  versionAnswered: boolean;
  /** Its server/discover got a result (not an error): the client has what it asked for and will not retry it or fall back. */
  probeAnswered: boolean;
  /** Who sent its first exchange (address and User-Agent), and the clientInfo its requests named (2026-07-28). */
  clientKey: string | null;
  clientName: string | null;
}

/**
 * How a client finds out what a server speaks before any handshake: a `server/discover` request
 * (2026-07-28; refused by older servers, after which the client sends initialize), or a GET asking
 * for an event stream without a session (a legacy SSE client opening its stream).
 */
export type ProbeKind = 'discover' | 'stream';

/** How long after its probe a client's next attempt is still the same attempt (clients retry within seconds). */
const PROBE_WINDOW_MS = 10_000;

/** What the proxy knows of an exchange when it asks which session it belongs to. */
export interface SessionHint {
  exchange: Exchange;
  /** `Mcp-Session-Id` the client sent. */
  requestSessionId: string | null;
  /** `Mcp-Session-Id` the server answered with. */
  responseSessionId: string | null;
  /** The legacy session id query parameter (`sessionId` or the Python SDK's `session_id`; see wire/legacy-endpoint). */
  legacySessionId: string | null;
  /** The request body carried an `initialize` request. */
  hasInitialize: boolean;
  /** The request body carried a `server/discover` probe. */
  hasProbe?: boolean;
  /** The request or response carried JSON-RPC at all. */
  isMcp: boolean;
  /** A GET answered with text/event-stream and no session header: a legacy HTTP+SSE stream. */
  isLegacyStream: boolean;
  /**
   * Who sent it: client address and User-Agent. Keeps a probe and the initialize after it together
   * (clients open a new connection for the fallback, so the TCP connection cannot tell).
   */
  clientKey: string;
  /**
   * The client's TCP connection (address:port). Two clients with the same address and User-Agent (two
   * Claude Code windows) keep their own connections alive: without a session id, it tells them apart.
   */
  connection?: string | null;
  /** The upstream of the proxy route the exchange went through (a proxy serving several); else the proxy's. */
  target?: string | null;
  /** The name of that route (the Claude Code server `mcptap claude install` routed): the session's label. */
  routeName?: string | null;
  /** The clientInfo (name/version) in the request's `_meta` (2026-07-28), or null. */
  clientName?: string | null;
}

/** Connections remembered for the session they carried (the newest; each is a few dozen bytes). */
const MAX_CONNECTIONS = 4096;

const pathOf = (url: string) => url.split('?')[0];

const refusedProbeWithId = (h: SessionHint) => !!h.hasProbe && !h.hasInitialize && !h.requestSessionId && !h.legacySessionId &&
  !!h.responseSessionId && (h.exchange.status ?? 0) >= 400;

/** Whether an exchange is a probe, and which (see ProbeKind). */
function probeOf(h: SessionHint): ProbeKind | null {
  if (h.requestSessionId || h.legacySessionId || h.responseSessionId || h.hasInitialize) return null;
  if (h.hasProbe) return 'discover';
  const accept = header(h.exchange.requestHeaders, 'accept') ?? '';
  return h.exchange.method === 'GET' && h.exchange.kind === 'http' && h.isMcp && !h.isLegacyStream && accept.includes('text/event-stream') ? 'stream' : null;
}

const enc = (id: unknown) => (typeof id === 'string' ? 's:' + id : 'n:' + String(id));

/**
 * Turns decoded JSON-RPC messages into a session's ordered, correlated record. It decides which MCP
 * session an exchange belongs to (Mcp-Session-Id, legacy sessionId, WebSocket connection, or the
 * initialize that starts one), numbers messages, pairs responses with requests across connections,
 * and lifts handshake facts (versions, peer info, capabilities) onto the session.
 */
export class SessionTracker {
  private readonly states = new Map<string, SessionState>();
  private readonly byMcpId = new Map<string, SessionState>();
  private readonly byLegacyId = new Map<string, SessionState>();
  private readonly byClient = new Map<string, SessionState>();
  private readonly byConnection = new Map<string, SessionState>();
  /** Traffic that carries no JSON-RPC, grouped per run and upstream. */
  private readonly httpSessions = new Map<string, SessionState>();
  private readonly idleForgetMs: number;
  /** Capture time of the last sweep for idle sessions (sweeps run on traffic, so a test drives them by timestamps). */
  private sweptAt = 0;

  constructor(private readonly hub: CaptureHub, private readonly opts: TrackerOptions) {
    this.idleForgetMs = opts.idleForgetMs ?? IDLE_FORGET_MS;
  }

  private create(transport: Transport, startedAt: number, target: string | null = null, routeName: string | null = null): SessionState {
    const session: Session = {
      id: newSessionId(),
      label: this.opts.label ?? routeName,
      transport,
      target: target ?? this.opts.target,
      mcpSessionId: null,
      protocolVersion: null,
      clientInfo: null,
      serverInfo: null,
      clientCapabilities: null,
      serverCapabilities: null,
      startedAt,
      endedAt: null,
      endReason: null,
      messageCount: 0,
      errorCount: 0,
      exchangeCount: 0,
      gateway: null,
    };
    const st: SessionState = { session, nextSeq: 1, pending: new Map(), cancelled: new Map(), openExchanges: 0, initializeSeen: false, lastActivity: startedAt, endpointPath: null, selection: null, probe: null, versionAnswered: false, probeAnswered: false, clientKey: null, clientName: null };
    this.states.set(session.id, st);
    this.hub.emit('session', session);
    return st;
  }

  get(sessionId: string): Session | null {
    return this.states.get(sessionId)?.session ?? null;
  }

  /** Decides the session of an HTTP exchange once its request body and response head are known. */
  assign(hint: SessionHint): Session {
    // A server/discover refused with a session id (the Python SDK 1.x hands one to any request it refuses):
    // the id names no session, and the client's fallback initialize belongs with the probe.
    const h = refusedProbeWithId(hint) ? { ...hint, responseSessionId: null } : hint;
    this.sweep(h.exchange.startedAt);
    const probe = probeOf(h);
    this.guess = null;
    const st = this.pick(h, probe);
    const first = st.session.exchangeCount === 0;
    st.probe = probe && (st.probe === probe || first) ? probe : null;
    const ex = h.exchange;
    st.clientKey ??= h.clientKey;
    st.clientName ??= h.clientName ?? null;
    this.noteGrouping(st, h, probe, first);
    ex.sessionId = st.session.id;
    st.session.exchangeCount++;
    st.openExchanges++;
    st.lastActivity = ex.startedAt;
    // A refused server/discover probe is how a client learns to fall back to initialize: no error (check agrees).
    if (ex.status != null && ex.status >= 400 && probe !== 'discover') st.session.errorCount++;
    if (h.responseSessionId && !st.session.mcpSessionId) this.bindMcpId(st, h.responseSessionId);
    // A 2026-07-28 request names its revision in a header too (the body's _meta says the same, or the server refuses it).
    if (!st.session.protocolVersion && !h.hasInitialize && h.isMcp) st.session.protocolVersion = header(ex.requestHeaders, 'mcp-protocol-version') ?? null;
    if (st.session.transport !== 'http') {
      this.byClient.set(h.clientKey, st);
      if (h.connection) {
        const before = this.byConnection.get(h.connection);
        // A new session started on a connection another session used: the same client process moved on
        // (a reconnect), and its other pooled connections go with it. A client starting on a connection of
        // its own (a second window) leaves the others' alone.
        if (h.hasInitialize && before && before !== st) {
          for (const [c, s] of this.byConnection) if (s === before) this.byConnection.set(c, st);
        }
        this.byConnection.delete(h.connection);
        this.byConnection.set(h.connection, st);
        if (this.byConnection.size > MAX_CONNECTIONS) this.byConnection.delete(this.byConnection.keys().next().value!);
      }
    }
    if (st.session.transport === 'streamable-http' && ex.method === 'POST' && h.isMcp) st.endpointPath ??= pathOf(ex.url);
    if (h.hasInitialize || (!st.selection && h.isMcp && st.session.transport !== 'http')) st.selection = selectedServers(ex.url, ex.requestHeaders);
    this.hub.emit('session', st.session);
    return st.session;
  }

  /**
   * The session an exchange belongs to. The exits, in order: a known legacy sessionId; an
   * Mcp-Session-Id (known, or one the proxy joins late); a legacy event stream; a known answered
   * Mcp-Session-Id; an initialize (joining what its client sent just before it); OAuth discovery after a
   * 401; plain HTTP; a probe (joining only the same probe retried); other JSON-RPC without identity.
   */
  private pick(h: SessionHint, probe: ProbeKind | null): SessionState {
    const ex = h.exchange;
    const target = h.target ?? null;
    const routeName = h.routeName ?? null;
    if (h.legacySessionId) {
      const st = this.byLegacyId.get(h.legacySessionId);
      if (st) return st;
    }
    if (h.requestSessionId) {
      const st = this.byMcpId.get(h.requestSessionId);
      if (st) return st;
      // The proxy started after the client connected: pick the session up where we join it.
      const joined = this.create('streamable-http', ex.startedAt, target, routeName);
      this.bindMcpId(joined, h.requestSessionId);
      return joined;
    }
    if (h.isLegacyStream) {
      // Or the standalone stream of a stateless Streamable HTTP server (no session id there either), from
      // a client without MCP-Protocol-Version (2025-03-26): it GETs the URL it has been POSTing to.
      const prev = this.byClient.get(h.clientKey);
      if (prev && prev.session.transport === 'streamable-http' && !prev.session.endedAt && prev.endpointPath === pathOf(ex.url)) return prev;
      return this.create('sse', ex.startedAt, target, routeName);
    }
    if (h.responseSessionId) {
      const known = this.byMcpId.get(h.responseSessionId);
      if (known) return known;
    }
    if (h.hasInitialize || h.responseSessionId) {
      // Its client's server/discover probe, or a request sent too early, just before and not yet part of
      // a handshake, belongs to this session: users need to see why a fallback happened. A stream GET
      // does not: it was another attempt (the other transport, an earlier process).
      // An initialize answered with a redirect (LiteLLM's /mcp → /mcp/) is not a handshake: the client's
      // repeat of it at the new URL belongs to the same session.
      const redirected = ex.status != null && ex.status >= 300 && ex.status < 400;
      const prev = this.byClient.get(h.clientKey);
      if (prev && !prev.initializeSeen && !prev.session.mcpSessionId && prev.probe !== 'stream' && !prev.probeAnswered && ex.startedAt - prev.lastActivity < PROBE_WINDOW_MS) {
        prev.initializeSeen = !redirected;
        return prev;
      }
      const st = this.create('streamable-http', ex.startedAt, target, routeName);
      st.initializeSeen = !redirected;
      return st;
    }
    if (!h.isMcp && isOAuthDiscoveryPath(ex.url)) {
      // A client's OAuth discovery after the 401 that sent it there: part of why its session failed.
      const prev = this.byClient.get(h.clientKey);
      if (prev && !prev.session.endedAt && ex.startedAt - prev.lastActivity < 60_000) return prev;
    }
    if (probe === 'discover' && !h.isLegacyStream) {
      // Stateless grouping (2026-07-28), rule 1: a server/discover starts a client's run, unless it is the same
      // probe retried after a refusal (see pickStateless).
      const again = this.retriedProbe(h, target);
      if (again) return again;
      return this.create('streamable-http', ex.startedAt, target, routeName);
    }
    if (probe) {
      // A probe starts an attempt: it belongs to the initialize that follows, never to a session that
      // started before it (a new process, or a new connection after the old session failed); only the
      // same probe retried joins it. A stream GET of a session past its handshake is that session's
      // standalone stream (a stateless server gives it no session id to carry).
      const mine = h.connection ? this.byConnection.get(h.connection) : undefined;
      const prev = this.byClient.get(h.clientKey);
      for (const st of [mine, prev]) {
        if (!st || st.session.endedAt || (target && st.session.target !== target)) continue;
        if (probe === 'stream' && st.initializeSeen && st.session.transport === 'streamable-http') return st;
        if (st.probe === probe && ex.startedAt - st.lastActivity < PROBE_WINDOW_MS) return st;
      }
      return this.create('streamable-http', ex.startedAt, target, routeName);
    }
    if (!h.isMcp) {
      const key = `${target ?? ''}|${routeName ?? ''}`;
      let st = this.httpSessions.get(key);
      if (!st || st.session.endedAt) this.httpSessions.set(key, (st = this.create('http', ex.startedAt, target, routeName)));
      return st;
    }
    // JSON-RPC without any session identity: a stateless server (2026-07-28), or a client that lost its session id.
    return this.pickStateless(h, target);
  }

  // ---- Stateless grouping (2026-07-28) ----
  //
  // Revision 2026-07-28 has no handshake and no session id: which requests belong together is no longer said by
  // the protocol. mcptap groups a client's stateless requests into one session (a run of one client process) by:
  //  1. The server/discover that starts a client's run opens a new session. Only the same probe retried after a
  //     refusal (no result yet, the same client, within PROBE_WINDOW_MS) joins the attempt before it; a discover
  //     that got its result is never retried, so the next one is another run (`claude mcp list`, then `claude -p`).
  //  2. A request on a connection a session already used is that session's: a client's TCP connections are its
  //     own (two Claude Code processes started together each have their own pool).
  //  3. On a connection new to mcptap: the live session of the same client (address + User-Agent) whose
  //     requests named the same clientInfo (`_meta`). With one, it is that one. With several (two processes of
  //     one client at once) nothing on the wire tells them apart: the most recently active is taken, and the
  //     session says so (`grouping.uncertain`, shown by `sessions` and `show`), rather than guessing silently.
  //  4. Otherwise (the proxy started mid-run, or a client with no earlier request): a new session.
  // An initialize (a 2026 client falling back to an older server) or a session id makes it an ordinary session.

  /** Set by pickStateless when it had to choose among several runs (rule 3): why, in words. */
  private guess: string | null = null;

  /** The attempt a server/discover retries (rule 1): the client's probe-only session, refused so far, within the window. */
  private retriedProbe(h: SessionHint, target: string | null): SessionState | null {
    const mine = h.connection ? this.byConnection.get(h.connection) : undefined;
    const prev = this.byClient.get(h.clientKey);
    for (const st of [mine, prev]) {
      if (!st || st.session.endedAt || (target && st.session.target !== target)) continue;
      if (st.probe === 'discover' && !st.probeAnswered && h.exchange.startedAt - st.lastActivity < PROBE_WINDOW_MS) return st;
    }
    return null;
  }

  private pickStateless(h: SessionHint, target: string | null): SessionState {
    const ex = h.exchange;
    const live = (st: SessionState) => !st.session.endedAt && st.session.transport === 'streamable-http' && (!target || st.session.target === target) &&
      !(h.clientName && st.clientName && h.clientName !== st.clientName);
    // Rule 2: the session this connection carried before is the client's own.
    const mine = h.connection ? this.byConnection.get(h.connection) : undefined;
    if (mine && live(mine)) return mine;
    // Rule 3: the client's live runs.
    const runs = [...this.states.values()].filter((st) => st.clientKey === h.clientKey && live(st));
    const stateless = runs.filter((st) => !st.session.mcpSessionId && !st.initializeSeen);
    const pool = stateless.length ? stateless : runs;
    if (pool.length === 0) return this.create('streamable-http', ex.startedAt, target, h.routeName ?? null);
    const latest = pool.reduce((a, b) => (b.lastActivity >= a.lastActivity ? b : a));
    if (pool.length > 1) {
      this.guess = `${pool.length} runs of ${h.clientName ?? 'this client'} from ${h.clientKey} were live at once; a request on a connection new to mcptap could be either's (placed with the most recently active)`;
    }
    return latest;
  }

  /** Keeps a stateless session's grouping facts (rule above); a handshake or a session id makes it an ordinary one. */
  private noteGrouping(st: SessionState, h: SessionHint, probe: ProbeKind | null, first: boolean): void {
    const s = st.session;
    if (st.initializeSeen || s.mcpSessionId || h.hasInitialize || s.transport !== 'streamable-http' || !h.isMcp) {
      if (s.grouping && (st.initializeSeen || s.mcpSessionId)) s.grouping = null;
      return;
    }
    if (!s.grouping) {
      if (h.requestSessionId || h.responseSessionId) return;
      s.grouping = { rule: 'stateless', startedByDiscover: first && probe === 'discover', guessed: 0, uncertain: null };
    }
    if (this.guess) {
      s.grouping.guessed++;
      s.grouping.uncertain = this.guess;
    }
  }

  private bindMcpId(st: SessionState, id: string): void {
    st.session.mcpSessionId = id;
    this.byMcpId.set(id, st);
  }

  /** A legacy stream announced its `endpoint`; POSTs carrying this sessionId belong to it. */
  bindLegacy(sessionId: string, legacyId: string): void {
    const st = this.states.get(sessionId);
    if (!st) return;
    st.session.mcpSessionId = legacyId;
    this.byLegacyId.set(legacyId, st);
    this.hub.emit('session', st.session);
  }

  /** Whether a legacy sessionId belongs to a live session (a POST carrying it needs nothing else to be placed). */
  knowsLegacy(legacyId: string): boolean {
    return this.byLegacyId.has(legacyId);
  }

  /** An exchange placed before its response head: an error status it gets later still counts. */
  noteStatus(sessionId: string, status: number, probe = false): void {
    const st = this.states.get(sessionId);
    if (!st || status < 400 || probe) return;
    st.session.errorCount++;
    this.hub.emit('session', st.session);
  }

  /** An exchange placed by assign() finished (a session with none open can be forgotten when idle). */
  exchangeEnded(sessionId: string, at: number): void {
    const st = this.states.get(sessionId);
    if (!st) return;
    st.openExchanges = Math.max(0, st.openExchanges - 1);
    st.lastActivity = Math.max(st.lastActivity, at);
  }

  /**
   * Forgets HTTP sessions idle past idleForgetMs with no exchange open (see IDLE_FORGET_MS). WebSocket and
   * stdio sessions end with their connection. Runs at most once per tenth of that time, in one pass.
   */
  private sweep(now: number): void {
    if (now - this.sweptAt < this.idleForgetMs / 10) return;
    this.sweptAt = now;
    const gone = new Set<SessionState>();
    for (const st of this.states.values()) {
      const t = st.session.transport;
      if (t === 'websocket' || t === 'stdio' || st.openExchanges > 0 || now - st.lastActivity < this.idleForgetMs) continue;
      gone.add(st);
    }
    if (gone.size === 0) return;
    for (const st of gone) this.states.delete(st.session.id);
    for (const map of [this.byMcpId, this.byLegacyId, this.byClient, this.byConnection, this.httpSessions]) {
      for (const [k, st] of map) if (gone.has(st)) map.delete(k);
    }
  }

  /** A WebSocket connection is one session. */
  openWebSocket(ex: Exchange): Session {
    return this.openConnection(ex, 'websocket');
  }

  /** A connection that is one session for its whole life: a WebSocket, or a wrapped stdio process. */
  openConnection(ex: Exchange, transport: 'websocket' | 'stdio', target: string | null = null, routeName: string | null = null): Session {
    const st = this.create(transport, ex.startedAt, target, routeName);
    ex.sessionId = st.session.id;
    st.session.exchangeCount++;
    this.hub.emit('session', st.session);
    return st.session;
  }

  end(sessionId: string, reason: string, at: number): void {
    const st = this.states.get(sessionId);
    if (!st || st.session.endedAt) return;
    st.session.endedAt = at;
    st.session.endReason = reason;
    this.hub.emit('session', st.session);
    if (st.session.mcpSessionId) {
      this.byMcpId.delete(st.session.mcpSessionId);
      this.byLegacyId.delete(st.session.mcpSessionId);
    }
    for (const [key, s] of this.byClient) if (s === st) this.byClient.delete(key);
    // The connections it used would hold its state until 4,096 newer ones pushed them out.
    for (const [c, s] of this.byConnection) if (s === st) this.byConnection.delete(c);
    // Keep ended sessions out of memory: everything about them is in the store already.
    this.states.delete(sessionId);
  }

  /** How many entries each of the tracker's maps holds (what a long-running proxy keeps in memory). */
  sizes(): { sessions: number; mcpIds: number; legacyIds: number; clients: number; connections: number; pending: number } {
    let pending = 0;
    for (const st of this.states.values()) pending += st.pending.size + st.cancelled.size;
    return { sessions: this.states.size, mcpIds: this.byMcpId.size, legacyIds: this.byLegacyId.size, clients: this.byClient.size, connections: this.byConnection.size, pending };
  }

  endAll(reason: string, at: number): void {
    for (const id of [...this.states.keys()]) this.end(id, reason, at);
  }

  /** Records decoded messages in order; returns the stored messages. */
  record(
    sessionId: string,
    exchangeId: string | null,
    direction: Direction,
    channel: Channel,
    decoded: DecodedMessage[],
    ts: number,
    sseEventId: string | null = null,
  ): RpcMessage[] {
    const st = this.states.get(sessionId);
    if (!st) return [];
    const out: RpcMessage[] = [];
    for (const d of decoded) {
      const text = this.opts.scrub(d.text);
      const capped = Buffer.byteLength(text) > this.opts.maxBody;
      const m: RpcMessage = {
        sessionId,
        seq: st.nextSeq++,
        exchangeId,
        ts,
        direction,
        channel,
        kind: d.kind,
        rpcId: d.rpcId,
        method: d.method,
        // A log line's subject is its head, cut from the scrubbed text (a cut secret would escape the scan).
        subject: d.kind === 'log' ? text.slice(0, 200) : d.subject && this.opts.scrub(d.subject),
        payload: capped ? utf8Prefix(Buffer.from(text), this.opts.maxBody).toString('utf8') : text,
        // A line or event past its decoder's bound arrives as its start only.
        truncated: capped || d.decodeError?.kind === 'over-limit',
        size: d.size,
        correlatedSeq: null,
        latencyMs: null,
        sseEventId,
        batchIndex: d.batchIndex,
        isError: d.isError,
        errorCode: d.errorCode,
        decodeError: d.decodeError,
      };
      st.session.messageCount++;
      st.lastActivity = ts;
      this.correlate(st, m, d.value);
      // Counted once paired: the error answering a server/discover probe is the refusal clients recover from.
      if ((m.isError || m.kind === 'invalid' || m.kind === 'non-json') && !(m.kind === 'error' && m.method === 'server/discover')) st.session.errorCount++;
      this.hub.emit('message', m, true);
      out.push(m);
    }
    if (out.length) this.hub.emit('session', st.session);
    return out;
  }

  /** The session went through a gateway (LiteLLM): what gave it away, and the servers its initialize selected. */
  private noteGateway(st: SessionState, recognisedBy: string): void {
    if (st.session.gateway) return;
    st.session.gateway = {
      name: 'litellm', recognisedBy, servers: st.selection?.servers ?? [], selectedBy: st.selection?.by ?? null,
      prefixes: [], separator: LITELLM_SEPARATOR,
    };
  }

  /** A part of a message kept on the session (clientInfo, capabilities), scrubbed like the message. */
  private scrubbed<T>(value: T | undefined): T | null {
    if (value == null) return null;
    try {
      return JSON.parse(this.opts.scrub(JSON.stringify(value))) as T;
    } catch {
      return null;
    }
  }

  private correlate(st: SessionState, m: RpcMessage, value: unknown): void {
    const v = value as Record<string, any> | null;
    if (m.kind === 'request' && m.rpcId != null) {
      st.pending.set(m.direction + enc(m.rpcId), m);
      if (m.method === 'initialize' && m.direction === 'client->server') {
        const p = v?.params ?? {};
        st.session.clientInfo = this.scrubbed(p.clientInfo);
        st.session.clientCapabilities = this.scrubbed(p.capabilities);
        // What the client asks for, until the server's answer decides; it overrides the revision a 2026 client's
        // probe named (its header, its _meta) before it fell back to initialize.
        if (!st.versionAnswered && typeof p.protocolVersion === 'string') st.session.protocolVersion = p.protocolVersion;
      }
      if (m.direction === 'client->server') liftClientIdentity(st.session, v?.params);
      return;
    }
    if (m.kind === 'notification' && m.method === 'notifications/cancelled') {
      // The sender gave up on its own request: it waits no more.
      const id = v?.params?.requestId;
      const key = m.direction + enc(id);
      const req = id == null ? undefined : st.pending.get(key);
      if (req) {
        st.pending.delete(key);
        st.cancelled.set(key, req);
        if (st.cancelled.size > CANCELLED_KEPT) st.cancelled.delete(st.cancelled.keys().next().value!);
      }
      return;
    }
    if (m.kind === 'response' || m.kind === 'error') {
      const reqDir: Direction = m.direction === 'client->server' ? 'server->client' : 'client->server';
      let key = m.rpcId != null ? reqDir + enc(m.rpcId) : null;
      if (key == null && m.exchangeId) {
        // An error with id null (the server could not read the id, or refused before reading): if the
        // HTTP exchange that carried it sent exactly one request, that is what it answers.
        const same = [...st.pending].filter(([, r]) => r.exchangeId === m.exchangeId && r.direction === reqDir);
        if (same.length === 1) key = same[0][0];
      }
      const req = key == null ? undefined : st.pending.get(key) ?? st.cancelled.get(key);
      if (!req || key == null) return;
      st.pending.delete(key);
      st.cancelled.delete(key);
      req.correlatedSeq = m.seq;
      m.correlatedSeq = req.seq;
      m.method = req.method;
      m.subject = req.subject;
      req.latencyMs = m.latencyMs = Math.max(0, m.ts - req.ts);
      this.hub.emit('message', req, false);
      const r = v?.result;
      if (m.kind === 'response' && r && m.direction === 'server->client') liftServerIdentity(st.session, r);
      if (m.kind === 'response' && req.method === DISCOVER) st.probeAnswered = true;
      if (m.kind === 'response' && r && (req.method === 'initialize' || req.method === DISCOVER)) {
        if (typeof r.protocolVersion === 'string') {
          st.session.protocolVersion = r.protocolVersion;
          st.versionAnswered = true;
        }
        if (r.serverInfo) st.session.serverInfo = this.scrubbed(r.serverInfo);
        if (r.capabilities) st.session.serverCapabilities = this.scrubbed(r.capabilities);
        if (recogniseGateway(r.serverInfo)) this.noteGateway(st, `serverInfo ${LITELLM_SERVER_NAME}`);
      }
      // LiteLLM 1.108 scoped to one server passes that server's serverInfo on; its tool lists still tell.
      if (m.kind === 'response' && req.method === 'tools/list' && r?._meta?.[LITELLM_OUTCOMES_META]) this.noteGateway(st, `tools/list _meta ${LITELLM_OUTCOMES_META}`);
      const g = st.session.gateway;
      if (m.kind === 'response' && g && req.method === 'tools/list' && Array.isArray(r?.tools)) {
        const names = r.tools.map((t: { name?: unknown }) => t?.name).filter((n: unknown): n is string => typeof n === 'string');
        g.prefixes = [...new Set([...g.prefixes, ...listedPrefixes(names, g.servers, g.separator)])].sort();
      }
    }
  }
}

// ---- Identity without a handshake (2026-07-28) ----
// A stateless client says who it is and which revision it speaks on every request (`params._meta`), the
// server on every result (`result._meta`). The first that says so names the session, as an initialize would;
// an initialize's own answer (a 2026 client falling back to an older server) still decides the revision.

function liftClientIdentity(s: Session, params: unknown): void {
  const id = clientIdentity(params);
  if (!id) return;
  if (id.clientInfo) s.clientInfo ??= id.clientInfo as Session['clientInfo'];
  if (id.clientCapabilities) s.clientCapabilities ??= id.clientCapabilities;
  if (id.protocolVersion) s.protocolVersion ??= id.protocolVersion;
}

function liftServerIdentity(s: Session, result: unknown): void {
  const info = serverIdentity(result);
  if (info) s.serverInfo ??= info as Session['serverInfo'];
}
