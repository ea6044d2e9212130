import { isLive, sessionLength, type SessionSpan } from '../store/liveness.js';
import { decodeErrorText } from '../model/facts.js';
import type { RpcMessage, Session } from '../model/model.js';
import { describeGateway } from '../capture/gateway.js';
import { foldIdentity, LISTEN, META, serverIdentity } from '../wire/mcp-2026.js';
import { parseForView, stringifyForView } from '../wire/json-depth.js';
import { terminalLine } from '../model/terminal.js';

export function arrow(m: Pick<RpcMessage, 'direction'>): string {
  return m.direction === 'client->server' ? '→' : '←';
}

export function isoTime(ms: number | null): string {
  return ms == null ? '' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** The time of day in UTC, with its Z: the same zone `sessions` and `check` print dates in. */
export function clockTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 23)}Z`;
}

export function duration(ms: number | null): string {
  if (ms == null) return '';
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  // Rounded to whole seconds before splitting, so 119.6 s is 2m00s, never 1m60s.
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}K`;
  return `${(n / 1024 / 1024).toFixed(1)}M`;
}

/** A table cell: wire text escaped for the terminal (src/model/terminal.ts), then cut or padded to `w`. */
export function pad(text: string, w: number): string {
  const s = terminalLine(text);
  if (s.length > w) return s.slice(0, Math.max(0, w - 1)) + '…';
  return s + ' '.repeat(w - s.length);
}

/** One line that says what a message is about, for tables and the timeline. */
export function summary(m: RpcMessage): string {
  if (m.kind === 'log') return m.payload;
  if (m.kind === 'non-json') return `not JSON: ${m.decodeError ? decodeErrorText(m.decodeError) : ''}`.trim();
  if (m.kind === 'invalid') return `invalid JSON-RPC: ${m.decodeError ? decodeErrorText(m.decodeError) : ''}`.trim();
  let v: any;
  try {
    v = parseForView(m.payload);
  } catch {
    return m.truncated ? '(truncated)' : '';
  }
  if (m.kind === 'error') return `error ${v?.error?.code ?? ''} ${v?.error?.message ?? ''}`.trim();
  if (m.kind === 'response') {
    // The identity a 2026-07-28 server puts on every result is the session's (shown once, in its header).
    const r = foldIdentity(v?.result ?? {});
    if (r.resultType === 'input_required') return `input required: ${inputRequestsText(r.inputRequests)}`;
    if (Array.isArray(r.supportedVersions)) {
      const info = serverIdentity(v?.result);
      return `${info ? `${info.name} ${info.version ?? ''} `.replace(/ +$/, ' ') : ''}supports ${r.supportedVersions.join(', ')}`;
    }
    if (Array.isArray(r.tools)) return `${r.tools.length} tools: ${r.tools.slice(0, 4).map((t: any) => t.name).join(', ')}${r.tools.length > 4 ? ', …' : ''}`;
    if (Array.isArray(r.resources)) return `${r.resources.length} resources`;
    if (Array.isArray(r.prompts)) return `${r.prompts.length} prompts`;
    if (r.serverInfo) return `${r.serverInfo.name ?? '?'} ${r.serverInfo.version ?? ''} protocol ${r.protocolVersion ?? '?'}`.trim();
    if (Array.isArray(r.content)) {
      const text = r.content.find((c: any) => c?.type === 'text')?.text ?? r.content[0]?.type ?? '';
      return `${r.isError ? 'isError: ' : ''}${String(text).replace(/\s+/g, ' ')}`;
    }
    if (Array.isArray(r.contents)) return `${r.contents.length} contents`;
    if (Array.isArray(r.messages)) return `${r.messages.length} messages`;
    return Object.keys(r).length ? `{${Object.keys(r).join(', ')}}` : 'ok';
  }
  // The client's identity a 2026-07-28 request repeats in _meta is the session's: what is left is what it asks.
  const p = foldIdentity(v?.params ?? {});
  if (Array.isArray(p.inputResponses) || (p.inputResponses && typeof p.inputResponses === 'object')) {
    const rest = m.method === 'tools/call' ? `${p.name}(${JSON.stringify(p.arguments ?? {})})` : m.subject ?? '';
    return `${rest} with input responses ${JSON.stringify(p.inputResponses)}`.trim();
  }
  if (m.method === LISTEN) return `listen for ${Object.keys(p.notifications ?? {}).filter((k) => p.notifications[k]).join(', ') || 'nothing'}`;
  if (m.method === 'notifications/subscriptions/acknowledged') return `subscribed (${JSON.stringify(p._meta?.[META.subscriptionId] ?? null)}): ${Object.keys(p.notifications ?? {}).filter((k) => p.notifications[k]).join(', ') || 'nothing'}`;
  if (m.method === 'initialize') return `${p.clientInfo?.name ?? '?'} ${p.clientInfo?.version ?? ''} protocol ${p.protocolVersion ?? '?'}`.trim();
  if (m.method === 'tools/call') return `${p.name}(${stringifyForView(p.arguments ?? {})})`;
  if (m.method === 'notifications/progress') return `progress ${p.progress}${p.total != null ? '/' + p.total : ''} ${p.message ?? ''}`.trim();
  if (m.method === 'notifications/message') return `[${p.level}] ${typeof p.data === 'string' ? p.data : stringifyForView(p.data)}`;
  if (m.subject) return m.subject;
  return Object.keys(p).length ? stringifyForView(p) : '';
}

/** What a multi-round-trip result asks the client for (2026-07-28 `inputRequests`): method and message of each. */
function inputRequestsText(reqs: unknown): string {
  const list = Array.isArray(reqs) ? reqs : reqs && typeof reqs === 'object' ? Object.values(reqs) : [];
  return list.map((r: any) => `${r?.method ?? '?'}${typeof r?.params?.message === 'string' ? ` "${r.params.message}"` : ''}`).join(', ') || '(none)';
}

/**
 * A label for a narrow column: "replay of 9c1b2a3d4e5f" (the label replay and resend give) becomes
 * "↻9c1b2a" or "↻9c1b2a #6", so the id it points to survives the cut; other labels are cut as usual.
 */
export function shortLabel(label: string | null, w: number): string {
  const l = label ?? '';
  const m = l.length > w ? /^(replay|resend) of ([0-9a-z-]+)(?: #(\d+))?$/.exec(l) : null;
  if (!m) return pad(l, w);
  const tail = m[3] ? ` #${m[3]}` : '';
  return pad(`↻${m[2].slice(0, Math.max(4, w - 1 - tail.length))}${tail}`, w);
}

export function sessionRowJson(s: Session, span?: SessionSpan) {
  return {
    id: s.id,
    label: s.label,
    transport: s.transport,
    target: s.target,
    clientName: s.clientInfo?.name ?? null,
    serverName: s.serverInfo?.name ?? null,
    // "via litellm → db_main": the gateway the session went through and the upstream servers it reached.
    via: describeGateway(s.gateway),
    gateway: s.gateway ?? null,
    // Stateless (2026-07-28): how its requests were grouped without a session id, and whether that was a guess.
    grouping: s.grouping ?? null,
    protocolVersion: s.protocolVersion,
    mcpSessionId: s.mcpSessionId,
    startedAt: new Date(s.startedAt).toISOString(),
    endedAt: s.endedAt == null ? null : new Date(s.endedAt).toISOString(),
    messageCount: s.messageCount,
    errorCount: s.errorCount,
    ...(span ? { live: isLive(s, span), lengthMs: sessionLength(s, span) } : {}),
  };
}
