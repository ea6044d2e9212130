import { createHash } from 'node:crypto';
import type { CaptureHub } from './hub.js';
import type { Exchange, HeaderList, Session } from '../model/model.js';
import type { Blob, Turn } from './turn.js';
import { inputOf, type ModelRequest } from '../wire/model-api/types.js';
import { header } from '../model/headers.js';
import { newSessionId } from '../model/ids.js';
import { IDLE_FORGET_MS } from './tracker.js';

export interface ConversationOptions {
  target: string;
  label: string | null;
  /** Scrubs secrets out of text before it is stored (what a turn quotes of bodies: results, errors, inputs). */
  scrub: (text: string) => string;
  /** A conversation idle this long with no turn open is forgotten (default IDLE_FORGET_MS, as MCP sessions). */
  idleForgetMs?: number;
}

interface ConversationState {
  session: Session;
  nextSeq: number;
  /** Messages the latest turn sent: a continuing conversation sends at least as many. */
  messageCount: number;
  /** Turns assigned and not yet recorded (a conversation with one open is not forgotten). */
  inFlight: number;
  lastActivity: number;
}

/** Conversations remembered for grouping, newest last; each is a few hundred bytes. */
const MAX_OPEN = 512;
/** Blob hashes already sent to the store (re-sending one is harmless, only wasted work). */
const MAX_KNOWN_BLOBS = 2048;
/** Recent tools arrays and system prompts tried verbatim against a new body (a few conversations at once). */
const RECENT_MEMBERS = 8;

export const blobHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 32);

/** `claude-cli/2.1.330 (external, sdk-cli)` → the client's name and version. */
function clientOf(userAgent: string | null): Session['clientInfo'] {
  if (!userAgent) return null;
  const m = /^([^\s/]+)\/(\S+)/.exec(userAgent);
  return m ? { name: m[1], version: m[2] } : { name: userAgent.slice(0, 80) };
}

/**
 * Groups model API turns into conversations (`model-api` sessions): by `x-claude-code-session-id`
 * where the client sends it, otherwise by client and the first message, which every turn of a
 * conversation repeats. Numbers turns and stores each distinct tools array and system prompt once.
 */
export class ConversationTracker {
  private readonly open = new Map<string, ConversationState>();
  private readonly byId = new Map<string, ConversationState>();
  private readonly knownBlobs = new Set<string>();
  private sweptAt = 0;
  /** The latest texts of repeated members (tools, system), newest first, with their hashes. */
  private readonly recent: Array<{ key: string; text: string; hash: string }> = [];

  constructor(private readonly hub: CaptureHub, private readonly opts: ConversationOptions) {}

  /** The conversation an exchange belongs to, decided from its request. */
  /** `target` is the upstream of the proxy route that carried it, when the proxy serves several. */
  assign(ex: Exchange, headers: HeaderList, req: ModelRequest, clientKey: string, target: string | null = null, routeName: string | null = null): Session {
    this.sweep(ex.startedAt);
    const conversationId = header(headers, 'x-claude-code-session-id');
    const key = conversationId ? 'id:' + conversationId : `history:${req.api}|${clientKey}|${blobHash(req.firstMessage ?? '')}`;
    let st = this.open.get(key);
    // A request with fewer messages than the last one started over (a new conversation with the same opening).
    if (st && !conversationId && req.messageCount < st.messageCount) st = undefined;
    if (!st) {
      st = this.create(ex.startedAt, conversationId, clientOf(header(headers, 'user-agent')), target ?? this.opts.target, routeName);
      this.open.delete(key);
      this.open.set(key, st);
      if (this.open.size > MAX_OPEN) this.open.delete(this.open.keys().next().value!);
    }
    st.messageCount = Math.max(st.messageCount, req.messageCount);
    st.inFlight++;
    st.lastActivity = Math.max(st.lastActivity, ex.startedAt);
    ex.sessionId = st.session.id;
    st.session.exchangeCount++;
    this.hub.emit('session', st.session);
    return st.session;
  }

  private create(at: number, conversationId: string | null, clientInfo: Session['clientInfo'], target: string, routeName: string | null): ConversationState {
    const session: Session = {
      id: newSessionId(), label: this.opts.label ?? routeName, transport: 'model-api', target,
      mcpSessionId: conversationId, protocolVersion: null, clientInfo, serverInfo: null,
      clientCapabilities: null, serverCapabilities: null, startedAt: at, endedAt: null, endReason: null,
      messageCount: 0, errorCount: 0, exchangeCount: 0,
    };
    const st: ConversationState = { session, nextSeq: 1, messageCount: 0, inFlight: 0, lastActivity: at };
    this.byId.set(session.id, st);
    this.hub.emit('session', session);
    return st;
  }

  /** Forgets conversations idle past the idle time with no turn open (nothing is written; see IDLE_FORGET_MS). */
  private sweep(now: number): void {
    const idle = this.opts.idleForgetMs ?? IDLE_FORGET_MS;
    if (now - this.sweptAt < idle / 10) return;
    this.sweptAt = now;
    for (const [id, st] of this.byId) if (st.inFlight === 0 && now - st.lastActivity >= idle) this.byId.delete(id);
    for (const [key, st] of this.open) if (!this.byId.has(st.session.id)) this.open.delete(key);
  }

  /** Stores a text once; returns its hash. */
  blob(text: string | null): string | null {
    if (text == null) return null;
    const hash = blobHash(text);
    if (!this.knownBlobs.has(hash)) {
      this.knownBlobs.add(hash);
      if (this.knownBlobs.size > MAX_KNOWN_BLOBS) this.knownBlobs.delete(this.knownBlobs.values().next().value!);
      this.hub.emit('blob', { hash, text } satisfies Blob);
    }
    return hash;
  }

  /**
   * A member of a request body (`tools`, `system`) as serialised text and its blob hash. Every turn of
   * a conversation resends the same ones: found verbatim in the body (clients send compact JSON), they
   * are neither serialised nor hashed again. `at` is where `"key":text` starts in the body (-1: not verbatim).
   */
  member(body: string, key: string, value: unknown): { text: string; hash: string; at: number } | null {
    if (value == null) return null;
    for (const r of this.recent) {
      if (r.key !== key) continue;
      const at = body.indexOf(`"${key}":${r.text}`);
      if (at >= 0) return { ...r, at };
    }
    const text = JSON.stringify(value);
    const hash = this.blob(text)!;
    this.recent.unshift({ key, text, hash });
    if (this.recent.length > RECENT_MEMBERS) this.recent.pop();
    return { text, hash, at: body.indexOf(`"${key}":${text}`) };
  }

  /** A turn complete (request and answer decoded): numbered and published. */
  record(turn: Omit<Turn, 'seq'>): Turn | null {
    const st = this.byId.get(turn.sessionId);
    if (!st) return null;
    const scrub = this.opts.scrub;
    const results = (list: Turn['toolResults']) => list.map((r) => ({ ...r, text: scrub(r.text) }));
    const t: Turn = {
      ...turn, seq: st.nextSeq++, text: scrub(turn.text),
      error: turn.error && { ...turn.error, message: scrub(turn.error.message) },
      toolUses: turn.toolUses.map((u) => {
        const inputText = scrub(u.inputText);
        return inputText === u.inputText ? u : { ...u, inputText, input: inputOf(inputText) };
      }),
      toolResults: results(turn.toolResults), serverResults: results(turn.serverResults),
      // Read from the request as sent: a connector's URL can hold a key in its path.
      mcpServers: turn.mcpServers.map((m) => (m.url ? { ...m, url: scrub(m.url) } : m)),
      mcpListings: turn.mcpListings.map((l) => (l.error ? { ...l, error: scrub(l.error) } : l)),
    };
    st.inFlight = Math.max(0, st.inFlight - 1);
    st.lastActivity = Math.max(st.lastActivity, t.endedAt ?? t.ts);
    st.session.messageCount++;
    if (t.error || t.toolResults.some((r) => r.isError)) st.session.errorCount++;
    this.hub.emit('turn', t);
    this.hub.emit('session', st.session);
    return t;
  }

  endAll(reason: string, at: number): void {
    for (const st of this.byId.values()) {
      if (st.session.endedAt) continue;
      st.session.endedAt = at;
      st.session.endReason = reason;
      this.hub.emit('session', st.session);
    }
    this.byId.clear();
    this.open.clear();
  }
}
